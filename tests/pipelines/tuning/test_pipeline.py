"""The tuning pipeline on the test environment: a tiny stored study scored on validation tails
of the period before the backtest's test folds, continued by a run with a larger budget, writing the suggested
override and logging every trial as a child MLflow run."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import optuna
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from stock_lstm.ml_models.common.distributed import TaskFailed
from stock_lstm.ml_models.common.intervals import Bands
from stock_lstm.ml_models.common.walk_forward import make_folds, validation_mae_ratio
from stock_lstm.ml_models.recurrent import tuning as tuning_module
from stock_lstm.ml_models.recurrent.tuning import development_rows, tuning_folds
from stock_lstm.pipelines.tuning.nodes import run_tuning, suggested_override
from tests.conftest import PROJECT_ROOT, environment_parameters, mlflow_store
from tests.helpers.poison import poisoned
from tests.ml_models.conftest import random_walk_features


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


def test_a_tiny_study_never_reads_test_rows_and_resumes(tmp_path: Path) -> None:
    # two trials (the defaults and one drawn) on one fold: what every check below needs
    tuning = {**_test_params("tuning"), "storage": _journal(tmp_path), "n_trials": 2, "folds": 1}
    backtest, training = _test_params("backtest"), _test_params("training")
    clean = random_walk_features({"AAA": 700, "BBB": 700, "CCC": 650}, seed=3)
    first_test = make_folds(
        clean, backtest["folds"], backtest["test_share"], backtest["validation_days"]
    )[0].test_start
    features = poisoned(clean, first_test)  # every backtest test period is NaN

    first = run_tuning(features, tuning, backtest, training)

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


def test_make_tune_writes_the_override_and_logs_trials_as_child_runs(project_copy: Path) -> None:
    """`make tune PARAMS=tuning.n_trials=2,tuning.folds=1` in env "test": two trials on one fold
    (the defaults and one drawn) are what the checks below need."""
    bootstrap_project(project_copy)
    budget = {"tuning": {"n_trials": 2, "folds": 1}}  # as `kedro run --params` passes them
    with KedroSession.create(
        project_path=project_copy, env="test", runtime_params=budget
    ) as session:
        session.run(pipeline_names=["ingestion", "cleaning", "feature_engineering", "tuning"])

    report = json.loads((project_copy / "data" / "08_reporting" / "tuning.json").read_text())
    assert report["n_trials_this_run"] == 2 and report["model_type"] == "lstm"
    assert (project_copy / "data" / "07_model_output" / "optuna.journal").stat().st_size > 0
    tuned = environment_parameters("tuned", project_copy / "conf")
    tested = environment_parameters("test", project_copy / "conf")
    assert tuned["training"]["model"] == {
        **tested["training"]["model"],  # the run's own training block
        **report["best"]["params"],
    }
    assert tuned["training"]["fit"] == tested["training"]["fit"]

    client = mlflow.MlflowClient(tracking_uri=mlflow_store(project_copy))
    experiment = client.get_experiment_by_name("stock_lstm")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert {r.info.run_name for r in children} == {"trial-0", "trial-1"}
    default = next(r for r in children if r.info.run_name == "trial-0")
    assert default.data.metrics["value"] == pytest.approx(report["default"]["value"])
    assert set(default.data.params) == set(report["best"]["params"])
    assert parents[0].data.metrics["tuning_report.best.value"] == pytest.approx(
        report["best"]["value"]
    )
    assert parents[0].data.params["tuning.n_trials"] == "2"


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
