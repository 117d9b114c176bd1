"""One Optuna study shared by several processes (`make tune WORKERS=n`, several machines with
one DATABASE_URL): on PostgreSQL in a schema of the project's database, on SQLite in a journal
file; the study's name follows from what it tunes; `tuning.n_trials` is the study's total, so
every trial is stored once however many processes add them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from stock_lstm.common.errors import InputError
from stock_lstm.data_pipeline.tuning_study import StudyStorage, study_name
from stock_lstm.pipelines.tuning.nodes import tuning_setup
from tests.conftest import environment_parameters
from tests.helpers.tuning_study import processes_adding_trials
from tests.ml_models.conftest import random_walk_features
from tests.pipelines.tuning.conftest import count_rows

STUDY = "shared"


def _test_params(name: str) -> dict[str, Any]:
    return environment_parameters("test")[name]


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

    assert count_rows(postgres_url, study_schema, "studies") == 1
    assert count_rows(postgres_url, study_schema, "trials") == 24  # counted in the database
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
