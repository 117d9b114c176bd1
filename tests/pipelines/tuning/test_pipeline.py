"""The tuning pipeline on the test environment: a tiny stored study scored on validation tails
of the period before the backtest's test folds, continued by a run with a larger budget and
repeated by two worker processes on PostgreSQL (`make tune` writing the suggested override and
logging every trial as a child MLflow run: test_make_targets.py)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from kedro.framework.startup import bootstrap_project

from stock_lstm.data_pipeline.tuning_study import enqueue_once, open_study
from stock_lstm.ml_models.common.distributed import TaskFailed
from stock_lstm.ml_models.common.intervals import Bands
from stock_lstm.ml_models.common.walk_forward import make_folds, validation_mae_ratio
from stock_lstm.ml_models.recurrent import tuning as tuning_module
from stock_lstm.ml_models.recurrent.tuning import development_rows, tuning_folds
from stock_lstm.pipelines.tuning.nodes import run_tuning, suggested_override, tuning_setup
from tests.conftest import PROJECT_ROOT, environment_parameters
from tests.helpers.poison import poisoned
from tests.ml_models.conftest import random_walk_features
from tests.pipelines.tuning.conftest import count_rows


def _test_params(name: str) -> dict[str, Any]:
    return environment_parameters("test")[name]


def test_tuning_is_registered_but_not_in_the_default_run() -> None:
    bootstrap_project(PROJECT_ROOT)
    from kedro.framework.project import pipelines

    assert "tuning" in pipelines
    default_nodes = {n.name for n in pipelines["__default__"].nodes}
    assert not default_nodes & {n.name for n in pipelines["tuning"].nodes}


def _journal(tmp_path: Path) -> dict[str, str]:
    return {"schema": "optuna", "journal": str(tmp_path / "optuna.journal")}


FIXED = {"units": 2, "dropout": 0.1, "learning_rate": 0.005, "window": 5, "loss": "huber"}


@dataclass(frozen=True)
class OneWorkerStudy:
    """A study's first run and what it ran on."""

    features: pd.DataFrame
    tuning: dict[str, Any]
    backtest: dict[str, Any]
    training: dict[str, Any]
    database_url: str  # a SQLite database: the study is the journal file of tuning.storage
    first_test: pd.Timestamp  # the backtest's first test day: every row from it is NaN
    first: dict[str, Any]  # the report of the first run


@pytest.fixture(scope="module")
def one_worker_study(tmp_path_factory: pytest.TempPathFactory) -> OneWorkerStudy:
    """One worker's tiny study in a journal file, run once for the tests below (one continues
    it, one repeats it with two workers on PostgreSQL): two trials, the defaults (trial 0) and
    FIXED (trial 1), on one fold, pruning off, of features whose every backtest test period is
    poisoned (NaN)."""
    root = tmp_path_factory.mktemp("study")
    tuning = {
        **_test_params("tuning"),
        "storage": _journal(root),
        "n_trials": 2,
        "folds": 1,
        "pruner": {"n_startup_trials": 100, "n_warmup_steps": 0},  # no pruning
    }
    backtest, training = _test_params("backtest"), _test_params("training")
    clean = random_walk_features({"AAA": 700, "BBB": 700, "CCC": 650}, seed=3)
    first_test = make_folds(
        clean, backtest["folds"], backtest["test_share"], backtest["validation_days"]
    )[0].test_start
    features = poisoned(clean, first_test)  # every backtest test period is NaN
    database_url = f"sqlite:///{root / 'stock_lstm.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", database_url)
        setup = tuning_setup(features, tuning, backtest, training, database_url)
        study = open_study(setup.storage, setup.study_name, tuning)
        # the defaults first, as run_tuning enqueues them (it finds them enqueued), then FIXED
        assert enqueue_once(study, setup.storage, setup.defaults, default=True)
        assert enqueue_once(study, setup.storage, FIXED)
        first = run_tuning(features, tuning, backtest, training)
    return OneWorkerStudy(features, tuning, backtest, training, database_url, first_test, first)


def test_a_tiny_study_never_reads_test_rows_and_resumes(
    one_worker_study: OneWorkerStudy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two trials (the defaults and FIXED) on one fold: what every check below needs; the
    # trial the continued study adds is drawn
    study = one_worker_study
    tuning, backtest, training = study.tuning, study.backtest, study.training
    features, first_test, first = study.features, study.first_test, study.first
    monkeypatch.setenv("DATABASE_URL", study.database_url)

    assert first["n_trials_this_run"] == 2 == first["n_trials_in_study"]
    assert first["default"]["trial"] == 0 and first["trials"][0]["user_attrs"]["default"]
    assert math.isfinite(first["default"]["value"]) and math.isfinite(first["best"]["value"])
    # the best is the minimum over the completed trials (the defaults are trial 0 among them)
    done = {t["number"]: t["value"] for t in first["trials"] if t["state"] == "COMPLETE"}
    assert first["default"]["value"] == done[0]
    assert first["best"]["value"] == min(done.values()) == done[first["best"]["trial"]]
    assert first["best_beats_default"] == (first["best"]["value"] < done[0])
    assert first["development_end"] < f"{first_test:%Y-%m-%d}"
    assert all(fold["test_end"] <= first["development_end"] for fold in first["folds"])
    for trial in first["trials"]:
        assert trial["state"] in ("COMPLETE", "PRUNED")
        assert all(math.isfinite(v) for v in trial["intermediate_values"].values())

    again = run_tuning(features, tuning, backtest, training)  # the study has its n_trials

    assert again["n_trials_this_run"] == 0 and again["best"] == first["best"]
    assert again["study_name"] == first["study_name"]

    more = {**tuning, "n_trials": 3}  # the same study (n_trials is its budget): 1 more trial
    second = run_tuning(features, more, backtest, training)

    assert second["study_name"] == first["study_name"]
    assert second["n_trials_in_study"] == 3 and second["n_trials_this_run"] == 1
    assert [t["number"] for t in second["trials"]] == [2]
    assert second["default"] == first["default"]  # the defaults are scored once per study
    done_now = [t["value"] for t in second["trials"] if t["state"] == "COMPLETE"]
    assert second["best"]["value"] == min([first["best"]["value"], *done_now])

    override = suggested_override(second, training)["training"]
    assert override["model"] == {**training["model"], **second["best"]["params"]}
    assert override["fit"] == training["fit"] and override["split"] == training["split"]


def test_a_tuner_reading_a_poisoned_row_would_fail(tmp_path: Path) -> None:
    """The check above can fail: poison in a validation tail the tuner scores breaks the trial."""
    tuning = {**_test_params("tuning"), "storage": _journal(tmp_path), "n_trials": 1, "folds": 1}
    backtest, training = _test_params("backtest"), _test_params("training")
    clean = random_walk_features({"AAA": 700, "BBB": 700}, seed=3)
    last_fold = tuning_folds(development_rows(clean, backtest), tuning)[-1]
    features = poisoned(clean, last_fold.validation_start)

    with pytest.raises(TaskFailed, match="tuning process 0.*(finite|NaN)"):
        run_tuning(features, tuning, backtest, training)


def test_make_tune_with_two_workers_on_postgresql_scores_what_one_worker_scores(
    one_worker_study: OneWorkerStudy,
    postgres_url: str,
    study_schema: str,
    dask_cluster: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two processes of the node (WORKERS=2) fill one study in the project's PostgreSQL, each
    trial once; with the same trials enqueued and pruning off, the values equal one worker's
    (one_worker_study's run on its journal file; TPE's own draws differ with several processes,
    so those are not compared). Two trials (the defaults and FIXED) on one fold: enough for two
    processes."""
    study = one_worker_study
    backtest, training, features, one = study.backtest, study.training, study.features, study.first
    # the same tuning parameters (the storage is part of the budget, not of the study's name)
    tuning = {**study.tuning, "storage": {**study.tuning["storage"], "schema": study_schema}}
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    setup = tuning_setup(features, tuning, backtest, training, postgres_url)
    pg_study = open_study(setup.storage, setup.study_name, tuning)
    # the same trials in the same order as one_worker_study's (a tie goes to the first)
    assert enqueue_once(pg_study, setup.storage, setup.defaults, default=True)
    assert enqueue_once(pg_study, setup.storage, FIXED)
    # WORKERS=2: the session's local cluster of two single-threaded worker processes (as
    # `make tune WORKERS=2` starts one: dask_cluster) serves this run and the rerun below, named
    # by its address (DASK_SCHEDULER_ADDRESS, as for several machines), so neither starts two
    # more processes importing TensorFlow
    dask_cluster.wait_for_workers(2, timeout=120)  # an earlier test may have killed one
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask_cluster.scheduler.address)
    two = run_tuning(features, {**tuning, "workers": 2}, backtest, training)

    assert "journal file" in one["storage"] and f"schema {study_schema}" in two["storage"]
    assert one["workers"] == 1
    assert two["study_name"] == one["study_name"] and two["workers"] == 2
    assert two["n_trials_this_run"] == 2 == two["n_trials_in_study"]
    assert count_rows(postgres_url, study_schema, "trials") == 2  # each trial stored once

    def scored(report: dict[str, Any]) -> dict[tuple, float]:
        return {tuple(sorted(t["params"].items())): t["value"] for t in report["trials"]}

    assert scored(two) == scored(one)
    assert (two["best"]["value"], two["best"]["params"]) == (
        one["best"]["value"],
        one["best"]["params"],
    )

    again = run_tuning(features, {**tuning, "workers": 2}, backtest, training)

    assert again["n_trials_this_run"] == 0  # the study has its n_trials: nothing added
    assert count_rows(postgres_url, study_schema, "trials") == 2


def test_a_hopeless_trial_is_pruned_after_its_first_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    """The objective reports after each fold: a trial worse than the median stops there
    (a score per `units` stands in for training, so this runs without fitting anything)."""
    fits: list[int] = []
    monkeypatch.setattr(tuning_module, "fit_network", lambda _t, params, *_: params["model"])
    monkeypatch.setattr(
        tuning_module,
        "fold_test_mae_ratio",
        lambda _f, _fold, model, *_: fits.append(model["units"]) or model["units"] / 10,
    )
    training = _test_params("training")
    features = random_walk_features({"AAA": 700}, seed=1)
    folds = tuning_module.tuning_folds(features, {**_test_params("tuning"), "folds": 3})
    space = {"units": [4, 8, 9]}
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    for units in (4, 8, 9):
        study.enqueue_trial({"units": units})
    objective = tuning_module.validation_objective(
        features, folds, training, space, [1], time.monotonic() + 60
    )

    study.optimize(objective, n_trials=3)

    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "PRUNED", "PRUNED"]  # 4 is the default: never pruned
    assert fits == [4, 4, 4, 8, 9]


class _Scaled:
    """A fixed model: every step's forecast is the origin's close times 1.01."""

    def forecast(self, ticker, period):
        close = np.repeat(period.histories[:, -1:] * 1.01, 5, axis=1)
        return Bands(close=close, lower=close, upper=close)


def test_a_trial_is_scored_on_its_folds_test_slice_not_the_tail_it_was_stopped_on() -> None:
    features = random_walk_features({"AAA": 700, "BBB": 700}, seed=2)
    folds = tuning_module.tuning_folds(features, {**_test_params("tuning"), "folds": 2})
    fold = folds[0]
    ratios = []
    for ticker in ("AAA", "BBB"):
        closes = features.loc[features["ticker"] == ticker, "close"].to_numpy()
        dates = features.loc[features["ticker"] == ticker, "date"].to_numpy()
        first = int(np.searchsorted(dates, fold.test_start.to_datetime64()))
        last = int(np.searchsorted(dates, fold.test_end.to_datetime64(), side="right"))
        for k in (1, 5):
            origins = np.arange(first, last - k)  # targets inside the fold's test slice
            naive = np.mean(np.abs(closes[origins + k] - closes[origins]))
            model = np.mean(np.abs(closes[origins + k] - 1.01 * closes[origins]))
            ratios.append(model / naive)

    score = tuning_module.fold_test_mae_ratio(features, fold, _Scaled(), 10, [1, 5])

    assert score == pytest.approx(np.mean(ratios))
    assert score != pytest.approx(validation_mae_ratio(features, fold, _Scaled(), 10, [1, 5]))
