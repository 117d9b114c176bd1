"""API fixtures: an app serving the session's fixed project (tests/conftest.py: a registered
fixed ONNX model, no TensorFlow), a private copy of it per test, and an app over a project
with no model.
The one end-to-end test serving a really trained model (test_predict) takes `trained_project`."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stock_lstm.api.app import create_app
from stock_lstm.common.settings import Settings, get_settings
from tests.conftest import TrainedProject, make_project_copy


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
