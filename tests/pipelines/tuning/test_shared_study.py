"""One Optuna study shared by several processes (`make tune WORKERS=n`, several machines with
one DATABASE_URL): on PostgreSQL in a schema of the project's database, on SQLite in a journal
file; the study's name follows from what it tunes; `tuning.n_trials` is the study's total, so
every trial is stored once however many processes add them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from stock_lstm.common.errors import InputError
from stock_lstm.data_pipeline.tuning_study import StudyStorage, open_study, study_name
from stock_lstm.ml_models.common.distributed import LOCAL_CLUSTER_CONFIG
from stock_lstm.pipelines.tuning.nodes import run_tuning, tuning_setup
from tests.conftest import environment_parameters
from tests.helpers.tuning_study import processes_adding_trials
from tests.ml_models.conftest import random_walk_features

STUDY = "shared"


def _test_params(name: str) -> dict[str, Any]:
    return environment_parameters("test")[name]


def _count(postgres_url: str, schema: str, table: str) -> int:
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.connect() as connection:
        found = connection.execute(text(f'SELECT count(*) FROM "{schema}".{table}')).scalar()  # noqa: S608
    engine.dispose()
    return int(found)


# --- where the study lives, and its name -------------------------------------------------------


def test_postgresql_puts_the_study_in_its_own_schema_of_the_project_database() -> None:
    # built, not written out: no credential-shaped URL is committed (tests/test_security.py)
    url = URL.create(
        "postgresql+psycopg",
        "tuner",
        "s3cret",
        "db.example",
        5432,
        "stocks",
        {"sslmode": "require"},
    ).render_as_string(hide_password=False)

    storage = StudyStorage.of({"schema": "optuna", "journal": "x.journal"}, url)

    located = make_url(storage.url)
    assert (located.host, located.database, located.password) == ("db.example", "stocks", "s3cret")
    assert located.query == {"sslmode": "require", "options": "-csearch_path=optuna"}
    assert storage.journal is None
    assert "s3cret" not in storage.describe() and "schema optuna" in storage.describe()
    assert "s3cret" not in repr(storage)  # as a Dask task's argument it may be printed


def test_sqlite_puts_the_study_in_a_journal_file_under_the_project(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STOCK_LSTM_PROJECT_ROOT", str(tmp_path))
    spec = {"schema": "optuna", "journal": "data/07_model_output/optuna.journal"}

    storage = StudyStorage.of(spec, f"sqlite:///{tmp_path / 'stock_lstm.db'}")

    assert storage.url is None
    assert storage.journal == tmp_path / "data" / "07_model_output" / "optuna.journal"
    storage.prepare()
    assert isinstance(storage.open(), optuna.storages.JournalStorage)


def test_a_schema_that_is_not_a_plain_name_is_refused() -> None:
    with pytest.raises(InputError, match="tuning.storage.schema"):
        StudyStorage.of({"schema": 'x"; drop', "journal": "j"}, "postgresql+psycopg://h/d")


def test_the_study_name_follows_what_is_tuned_not_the_budget() -> None:
    tuning = _test_params("tuning")
    definition = {"data_version": 7, "folds": [{"fold": 0}], "training": {"fit": 1}}
    name = study_name(tuning, "lstm", definition)

    budget = {**tuning, "n_trials": 99, "workers": 4, "timeout_minutes": 1, "seed": 1}
    assert study_name(budget, "lstm", definition) == name
    assert name.startswith("fold_test-lstm-")
    changed = [
        study_name({**tuning, "search_space": {"units": [2]}}, "lstm", definition),
        study_name(tuning, "gru", definition),
        study_name(tuning, "lstm", {**definition, "data_version": 8}),
    ]
    assert len({name, *changed}) == 4


def test_workers_must_be_a_whole_number() -> None:
    tuning = {**_test_params("tuning"), "workers": 0}
    features = random_walk_features({"AAA": 700}, seed=1)
    with pytest.raises(InputError, match="tuning.workers"):
        tuning_setup(features, tuning, _test_params("backtest"), _test_params("training"), "x")


# --- processes adding trials together -----------------------------------------------------------


def _check_each_trial_once(study: optuna.Study, total: int, ran: list[int]) -> None:
    trials = study.get_trials(deepcopy=False)
    assert sum(ran) == total == len(trials)  # not total per process
    assert sorted(t.number for t in trials) == list(range(total))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["process"] for t in trials}) <= 2


def test_two_processes_share_a_journal_study_and_store_n_trials(tmp_path: Path) -> None:
    storage = StudyStorage(journal=tmp_path / "optuna.journal")

    ran = processes_adding_trials(storage, STUDY, _test_params("tuning"), total=24)

    study = optuna.load_study(study_name=STUDY, storage=storage.open())
    _check_each_trial_once(study, 24, ran)


def test_two_processes_share_a_postgresql_study_and_store_n_trials(
    postgres_url: str, study_schema: str
) -> None:
    storage = StudyStorage.of({"schema": study_schema, "journal": "unused"}, postgres_url)

    ran = processes_adding_trials(storage, STUDY, _test_params("tuning"), total=24)

    assert _count(postgres_url, study_schema, "studies") == 1
    assert _count(postgres_url, study_schema, "trials") == 24  # counted in the database
    study = optuna.load_study(study_name=STUDY, storage=storage.open())
    _check_each_trial_once(study, 24, ran)
    # the project's schema is untouched: Optuna's tables (and alembic_version) are apart
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.connect() as connection:
        tables = connection.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
            {"s": study_schema},
        ).scalars()
        assert {"studies", "trials", "alembic_version"} <= set(tables)
        project = connection.execute(text("SELECT to_regclass('studies')")).scalar()
    engine.dispose()
    assert project is None


@contextmanager
def _cluster_of_two() -> Iterator[str]:
    """A local Dask cluster as `make tune WORKERS=2` starts one (distributed.dask_client): two
    worker processes with one thread each; its scheduler's address."""
    import dask
    from dask.distributed import LocalCluster

    with (
        dask.config.set(LOCAL_CLUSTER_CONFIG),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
    ):
        yield cluster.scheduler_address


# --- the tuning node with WORKERS=2 on PostgreSQL -------------------------------------------------


def test_make_tune_with_two_workers_on_postgresql_scores_what_one_worker_scores(
    postgres_url: str, study_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes of the node (WORKERS=2) fill one study in the project's PostgreSQL, each
    trial once; with the same trials enqueued and pruning off, the values equal one worker's
    (TPE's own draws differ with several processes, so those are not compared). Two trials (one
    fixed, then the defaults) on one fold: enough for two processes."""
    backtest, training = _test_params("backtest"), _test_params("training")
    features = random_walk_features({"AAA": 700, "BBB": 700}, seed=3)
    tuning = {
        **_test_params("tuning"),
        "storage": {"schema": study_schema, "journal": str(tmp_path / "optuna.journal")},
        "n_trials": 2,
        "folds": 1,
        "pruner": {"n_startup_trials": 100, "n_warmup_steps": 0},  # no pruning
    }
    fixed = [
        {"units": 2, "dropout": 0.1, "learning_rate": 0.005, "window": 5, "loss": "huber"},
    ]

    def run(database_url: str, workers: int) -> dict[str, Any]:
        monkeypatch.setenv("DATABASE_URL", database_url)
        setup = tuning_setup(features, tuning, backtest, training, database_url)
        study = open_study(setup.storage, setup.study_name, tuning)
        for params in fixed:
            study.enqueue_trial(params)
        return run_tuning(features, {**tuning, "workers": workers}, backtest, training)

    one = run(f"sqlite:///{tmp_path / 'stock_lstm.db'}", workers=1)  # the journal file
    # WORKERS=2: one cluster of two single-threaded worker processes serves this run and the
    # rerun below (DASK_SCHEDULER_ADDRESS, as for several machines), so the rerun does not
    # start two more processes importing TensorFlow
    with _cluster_of_two() as address:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
        two = run(postgres_url, workers=2)

        assert "journal file" in one["storage"] and f"schema {study_schema}" in two["storage"]
        assert two["study_name"] == one["study_name"] and two["workers"] == 2
        assert two["n_trials_this_run"] == 2 == two["n_trials_in_study"]
        assert _count(postgres_url, study_schema, "trials") == 2  # each trial stored once

        def scored(report: dict[str, Any]) -> dict[tuple, float]:
            return {tuple(sorted(t["params"].items())): t["value"] for t in report["trials"]}

        assert scored(two) == scored(one)
        assert (two["best"]["value"], two["best"]["params"]) == (
            one["best"]["value"],
            one["best"]["params"],
        )

        again = run_tuning(features, {**tuning, "workers": 2}, backtest, training)

        assert again["n_trials_this_run"] == 0  # the study has its n_trials: nothing added
        assert _count(postgres_url, study_schema, "trials") == 2


def test_a_dask_cluster_with_a_journal_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A remote cluster's workers cannot share this machine's journal file: PostgreSQL only."""
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://scheduler.example:8786")
    tuning = {**_test_params("tuning"), "storage": {"schema": "optuna", "journal": "j.journal"}}
    features = random_walk_features({"AAA": 700}, seed=1)

    with pytest.raises(InputError, match="journal file .*DATABASE_URL"):
        tuning_setup(
            features,
            tuning,
            _test_params("backtest"),
            _test_params("training"),
            f"sqlite:///{tmp_path / 'stock_lstm.db'}",
        )
