"""Environments are isolated: `kedro run --env test` and a replay write to data folders of their
own (database, models, reports, MLflow runs) and leave the main project's byte-identical."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kedro.config import OmegaConfigLoader

from stock_lstm.data_pipeline.database import dispose_engines
from tests.conftest import (
    PROJECT_ROOT,
    TrainedProject,
    copy_trained_project,
    make_project_copy,
)
from tests.helpers.database import crud_on
from tests.helpers.kedro_cli import as_in_a_users_shell, kedro, noise

# What names the main project's folders; each test below unsets them, as a user's shell has them.
MAIN_VARIABLES = ("DATABASE_URL", "STOCK_LSTM_DATA_DIR", "MLFLOW_TRACKING_URI", "KEDRO_ENV")


def _config(env: str, key: str) -> dict[str, Any]:
    from stock_lstm.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(
        str(PROJECT_ROOT / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": env}
    )
    loader.config_patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**"])
    return loader[key]


def test_the_api_builds_its_catalog_with_the_settings_kedro_reads() -> None:
    """The API and the registry commands open the catalog without bootstrapping the project
    (data_pipeline/catalog.py reads stock_lstm/kedro_config.py): a Kedro session's settings,
    read by Kedro from settings.py, must be those."""
    from kedro.framework.project import settings
    from kedro.framework.startup import bootstrap_project

    from stock_lstm import kedro_config

    bootstrap_project(PROJECT_ROOT)  # settings.py read again, as a fresh process reads it
    assert settings.CONF_SOURCE == kedro_config.CONF_SOURCE
    assert settings.CONFIG_LOADER_CLASS is kedro_config.CONFIG_LOADER_CLASS
    assert settings.CONFIG_LOADER_ARGS == kedro_config.CONFIG_LOADER_ARGS
    assert settings.DATA_CATALOG_CLASS is kedro_config.DATA_CATALOG_CLASS


def _file_paths(entry: dict[str, Any]) -> list[str]:
    paths = [str(v) for k, v in entry.items() if k.endswith("filepath")]
    return paths + [str(p) for p in (entry.get("serving_filepaths") or {}).values()]


@pytest.fixture
def no_main_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MAIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_main_variables")
@pytest.mark.parametrize(("env", "folder"), [("base", "data"), ("test", "data/test")])
def test_each_environment_writes_to_its_own_data_folder(env: str, folder: str) -> None:
    catalog = _config(env, "catalog")
    database = f"sqlite:///{PROJECT_ROOT / folder / 'stock_lstm.db'}"
    databases = {name: e["url"] for name, e in catalog.items() if "url" in e}
    assert {"raw_prices", "features", "model_version_record", "monitoring_run"} <= set(databases)
    assert set(databases.values()) == {database}
    written = {
        path
        for entry in catalog.values()
        for path in _file_paths(entry)
        if not path.startswith("conf/")
    }
    assert written and all(path.startswith(f"{folder}/0") for path in written), written
    assert all(path.count("/0") == 1 for path in written), written  # not data/test/... in base
    tracking = _config(env, "mlflow")["server"]["mlflow_tracking_uri"]
    assert tracking == f"sqlite:///{PROJECT_ROOT / folder / 'mlflow' / 'mlflow.db'}"
    storage = _config(env, "parameters")["tuning"]["storage"]["journal"]
    assert storage == f"{folder}/07_model_output/optuna.journal"


def test_set_variables_still_name_the_database_and_the_folder(
    no_main_variables, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'mine.db'}")
    monkeypatch.setenv("STOCK_LSTM_DATA_DIR", str(tmp_path / "elsewhere"))
    catalog = _config("test", "catalog")
    assert catalog["raw_prices"]["url"] == f"sqlite:///{tmp_path / 'mine.db'}"
    assert catalog["lstm_model"]["filepath"] == f"{tmp_path}/elsewhere/06_models/lstm_model.keras"


@pytest.mark.usefixtures("no_main_variables")
def test_the_environment_database_is_the_one_its_pipelines_write_to(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from stock_lstm.data_pipeline.catalog import environment_database

    for env, folder in (("test", "data/test"), (None, "data")):
        database = environment_database(PROJECT_ROOT, env)
        assert database == f"sqlite:///{PROJECT_ROOT / folder / 'stock_lstm.db'}"
        assert database == _config(env or "base", "catalog")["raw_prices"]["url"]
    monkeypatch.setenv("STOCK_LSTM_DATA_DIR", str(tmp_path / "elsewhere"))
    assert environment_database(PROJECT_ROOT, "test") == (
        f"sqlite:///{tmp_path / 'elsewhere' / 'stock_lstm.db'}"
    )
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'mine.db'}")
    assert environment_database(PROJECT_ROOT, "test") == f"sqlite:///{tmp_path / 'mine.db'}"


@pytest.mark.usefixtures("no_main_variables")
def test_the_api_in_an_environment_opens_that_environments_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, migrated_sqlite_template: Path
) -> None:
    """KEDRO_ENV=test without DATABASE_URL: the API reads data/test/stock_lstm.db, where
    `kedro run --env test` writes (and its artifacts live), never the main database."""
    from fastapi.testclient import TestClient

    from stock_lstm.api.app import create_app

    root = make_project_copy(tmp_path / "project")
    own = root / "data" / "test" / "stock_lstm.db"
    own.parent.mkdir()
    shutil.copy(migrated_sqlite_template, own)
    monkeypatch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
    monkeypatch.setenv("KEDRO_ENV", "test")
    try:
        with TestClient(create_app()) as client:
            assert client.get("/health").json()["database"] == "ok"
            assert client.app.state.database.url == f"sqlite:///{own}"
    finally:
        dispose_engines()
    # Neither the main database nor its prediction spool was created.
    assert not list((root / "data").glob("stock_lstm.db*"))


def _snapshot(root: Path, skip: tuple[str, ...]) -> dict[str, str]:
    """sha256 of every file under root/data, but the folders in `skip`."""
    data = root / "data"
    return {
        path.relative_to(data).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(data.rglob("*"))
        if path.is_file() and not path.relative_to(data).as_posix().startswith(skip)
    }


def main_project_copy(trained: TrainedProject, folder: Path) -> Path:
    """A copy of the trained project whose database sits where the main one does by default
    (data/stock_lstm.db), with its champion, models, reports and MLflow runs under data/."""
    import sqlite3

    project = copy_trained_project(trained, folder / "project")
    database = Path(project.database_url.removeprefix("sqlite:///"))
    with (
        sqlite3.connect(database) as source,
        sqlite3.connect(project.root / "data" / "stock_lstm.db") as target,
    ):
        source.backup(target)  # the whole database, what its write-ahead log holds too
    for path in database.parent.glob(f"{database.name}*"):  # its WAL files and prediction spool
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return project.root


@pytest.fixture
def main_project(trained_project: TrainedProject, tmp_path: Path) -> Path:
    return main_project_copy(trained_project, tmp_path)


def _champion(database: Path) -> str | None:
    import sqlite3

    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        row = connection.execute(
            "SELECT model_version FROM model_versions WHERE status = 'champion'"
        ).fetchone()
    return row[0] if row else None


# A narrower window than the stored history: on the main database this closed bars.
NARROWER = "ingestion.end=2012-10-01"


@dataclass(frozen=True)
class UsersRun:
    """`kedro run --env test` typed in a user's shell (no variable naming the main project's
    folders, no console settings), piped, in a copy of the main project: its console, and the
    main project's files before it."""

    root: Path
    output: str
    before: dict[str, str]


@pytest.fixture(scope="module")
def users_kedro_run(trained_project: TrainedProject, tmp_path_factory: pytest.TempPathFactory):
    """The one `kedro run` subprocess of the tests (the command a user types): its console and
    its files are checked by the tests below (environment isolation, a clean console, training
    once), so the project trains once for all of them."""
    root = main_project_copy(trained_project, tmp_path_factory.mktemp("users-run"))
    before = _snapshot(root, skip=("test/",))
    env = as_in_a_users_shell({k: v for k, v in os.environ.items() if k not in MAIN_VARIABLES})
    env["STOCK_LSTM_PROJECT_ROOT"] = str(root)
    output = kedro(root, env, "run", "--env", "test", "--params", NARROWER)
    return UsersRun(root=root, output=output, before=before)


@pytest.mark.slow
def test_kedro_run_env_test_leaves_the_main_project_byte_identical(users_kedro_run) -> None:
    root, before = users_kedro_run.root, users_kedro_run.before
    assert {"stock_lstm.db", "08_reporting/evaluation.json"} <= set(before)
    assert any(name.startswith("mlflow/") for name in before)
    assert _snapshot(root, skip=("test/",)) == before
    assert _champion(root / "data" / "stock_lstm.db") is not None
    own = root / "data" / "test"
    assert _champion(own / "stock_lstm.db") is not None
    assert (own / "08_reporting" / "evaluation.json").is_file()
    assert (own / "mlflow" / "mlflow.db").is_file()


@pytest.mark.slow
def test_a_training_kedro_run_prints_nothing_to_ignore(users_kedro_run) -> None:
    """A run that trains, from a user's shell, prints nothing a user must learn to ignore
    (tests/helpers/kedro_cli.py NOISE); piped, each log line is whole: the pipeline's
    completion on one line (every line of a piped run a whole record: tests/test_clean_console.py)."""
    output = users_kedro_run.output
    assert "already trained" not in output
    assert noise(output) == []
    assert any(
        "Pipeline execution completed successfully" in line for line in output.splitlines()
    ), output


@pytest.mark.slow
def test_the_same_kedro_run_again_trains_nothing(
    users_kedro_run, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`kedro run` with the same inputs again (the code, too: the first run's fingerprint was
    computed in a process of its own, this one's in the tests' process) trains, evaluates and
    registers nothing. In-process, with the runner `kedro run` defaults to (TrainOnceRunner:
    tests/pipelines/training/test_train_once_runner.py)."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from stock_lstm.cli.daily import parse_params
    from stock_lstm.common.fingerprint import training_code_hash
    from stock_lstm.pipelines.train_once import TrainOnceRunner

    root = users_kedro_run.root
    url = f"sqlite:///{root / 'data' / 'test' / 'stock_lstm.db'}"
    crud = crud_on(url)
    versions = crud.list_model_versions()
    assert len(versions) == 1  # the first run trained one version (its data/test was empty)
    trained, champion = versions[0], crud.champion_version()
    features = crud.latest_version("features")
    dispose_engines()

    for name in MAIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
    monkeypatch.chdir(root)
    bootstrap_project(root)
    # The training code's hash as a process started now computes it (this one cached it when
    # it trained the session's project: code edited since would be another fingerprint).
    training_code_hash.cache_clear()
    runner = TrainOnceRunner()
    with caplog.at_level("INFO"):
        with KedroSession.create(
            project_path=root, env="test", runtime_params=parse_params(NARROWER)
        ) as session:
            session.run(runner=runner)
    dispose_engines()
    output = caplog.text
    message = (
        f"model {trained.model_version} already trained on data version {features.id} "
        "with these parameters"
    )
    assert runner.skipped is not None and runner.skipped.startswith(message)
    assert message in output
    assert "Running node: train_model" not in output
    assert "Running node: evaluate_model" not in output
    assert "Running node: record_model_version" not in output
    assert crud.list_model_versions() == versions
    assert crud.champion_version() == champion
    dispose_engines()


@pytest.mark.slow
def test_a_replay_leaves_the_main_project_byte_identical(
    main_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m stock_lstm.cli.daily --env test --replay-from ...` in the main project (its
    `main`, in the tests' process, from a user's shell: no variable naming the main project's
    folders), which has imported what a replay's process would import again."""
    from stock_lstm.cli.daily import main

    before = _snapshot(main_project, skip=("replay/",))
    for name in MAIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STOCK_LSTM_PROJECT_ROOT", str(main_project))
    monkeypatch.chdir(main_project)
    # one session: the replay trains its own champion on its first day
    arguments = ["--env", "test", "--replay-from", "2012-10-01", "--days", "1"]
    try:
        assert main(arguments) == 0
    finally:
        dispose_engines()
    for name in MAIN_VARIABLES:  # the replay put back the variables it set
        assert name not in os.environ, name
    assert _snapshot(main_project, skip=("replay/",)) == before
    champion = _champion(main_project / "data" / "stock_lstm.db")  # read once compared
    assert champion is not None
    own = main_project / "data" / "replay"
    assert f"replaying in {own}" in capsys.readouterr().out
    assert _champion(own / "stock_lstm.db") not in (None, champion)
    assert any((own / "06_models").rglob("*.onnx"))
    assert (own / "mlflow" / "mlflow.db").is_file()
