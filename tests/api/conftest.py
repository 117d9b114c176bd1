"""API fixtures: an app serving the session's fixed project (tests/conftest.py: a registered
fixed ONNX model, no TensorFlow), a private copy of it per test, and an app over a project
with no model.
The one end-to-end test serving a really trained model (test_predict) takes `trained_project`."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stock_lstm.api.app import create_app
from stock_lstm.common.settings import Settings, get_settings
from tests.conftest import PROJECT_ROOT, TrainedProject, kedro_env, make_project_copy
from tests.helpers.server import bound_socket, start_uvicorn, stop, url_of, wait_healthy


@contextmanager
def captured(logger_name: str) -> Iterator[list[logging.LogRecord]]:
    """Records of a `stock_lstm.api` logger (which does not propagate to caplog's root)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def settings_for(root: Path, database_url: str, **overrides) -> Settings:
    return get_settings().model_copy(
        update={
            "database_url": database_url,
            "project_root": root,
            "kedro_env": "test",
            **overrides,
        }
    )


def copy_served_project(project: TrainedProject, root: Path) -> TrainedProject:
    """`tests.conftest.copy_trained_project` for a project the API serves: a private copy of its
    artifacts and SQLite file, the bundled raw snapshot (data/01_raw, which the API never
    reads, the largest part of the folder) linked instead of copied."""
    raw = project.root / "data" / "01_raw"
    shutil.copytree(
        project.root,
        root,
        symlinks=True,
        ignore=lambda folder, names: ["01_raw"] if Path(folder) == raw.parent else [],
    )
    if raw.exists():
        (root / "data" / "01_raw").symlink_to(raw, target_is_directory=True)
    database = Path(project.database_url.removeprefix("sqlite:///"))
    return TrainedProject(
        root=root, database_url=f"sqlite:///{root / database.relative_to(project.root)}"
    )


@pytest.fixture
def fixed_copy(tmp_path: Path, fixed_project: TrainedProject) -> TrainedProject:
    """A private copy of the fixed project (artifacts and SQLite file) a test may alter."""
    return copy_served_project(fixed_project, tmp_path / "fixed-copy")


@pytest.fixture(scope="session")
def served(fixed_project: TrainedProject) -> Iterator[TestClient]:
    """A client of the app serving the fixed project's champion (lifespan run once)."""
    app = create_app(settings_for(fixed_project.root, fixed_project.database_url))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def untrained_client(tmp_path: Path, sqlite_url: str) -> Iterator[TestClient]:
    """An app over a project copy where no pipeline ever ran: no model, empty database."""
    root = make_project_copy(tmp_path / "untrained")
    app = create_app(settings_for(root, sqlite_url))
    with TestClient(app) as client:
        yield client


GUARDED_TIMEOUT_S = 1  # HEADER_TIMEOUT_SECONDS and BODY_TIMEOUT_SECONDS of the guarded server
GUARDED_KEY = "alice-key-0123456789"  # the one key of its API_KEYS_FILE when it starts
SERVE_HTTP = re.search(r"^SERVE_HTTP := (\S+)$", (PROJECT_ROOT / "Makefile").read_text(), re.M)
# The module whose tests the guarded server is started for: a test of another module that
# uses it is put in that module's xdist group, so one worker starts it once.
GUARDED_GROUP = pytest.mark.xdist_group("tests/api/test_slow_clients.py")


@dataclass(frozen=True)
class GuardedServer:
    url: str
    logs: Path  # its LOG_DIR (api.log: the access lines)
    keys: Path  # its API_KEYS_FILE
    process: subprocess.Popen


@pytest.fixture(scope="session")
def guarded_server(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite_template: Path
) -> Iterator[GuardedServer]:
    """One real uvicorn started as `make serve` starts it (the Makefile's SERVE_HTTP protocol),
    over a project copy where no pipeline ran: header and body timeouts of GUARDED_TIMEOUT_S,
    its API keys in a file (API_KEYS_FILE, GUARDED_KEY's as it starts). The slow clients'
    tests (tests/api/test_slow_clients.py) and the SIGHUP key reload's (test_api_keys.py)
    share it: each opens connections of its own; only the SIGHUP test changes the keys."""
    assert SERVE_HTTP, "the Makefile's serve target names its protocol (SERVE_HTTP)"
    tmp_path = tmp_path_factory.mktemp("guarded")
    root = make_project_copy(tmp_path / "project")
    shutil.copy(migrated_sqlite_template, tmp_path / "test.db")
    keys = tmp_path / "keys"
    keys.write_text(f"alice:{GUARDED_KEY}\n")
    env = kedro_env(
        root,
        f"sqlite:///{tmp_path / 'test.db'}",
        HEADER_TIMEOUT_SECONDS=str(GUARDED_TIMEOUT_S),
        BODY_TIMEOUT_SECONDS=str(GUARDED_TIMEOUT_S),
        LOG_DIR=str(tmp_path / "logs"),
        API_KEYS_FILE=str(keys),
        API_KEY="",
    )
    with bound_socket() as sock:
        url = url_of(sock)
        process = start_uvicorn(sock, env, tmp_path / "server.log", "--http", SERVE_HTTP[1])
        try:
            wait_healthy(url, process, accept=(200, 503))
            yield GuardedServer(url, tmp_path / "logs", keys, process)
        finally:
            stop(process)
            print((tmp_path / "server.log").read_text(errors="replace")[-3000:])
