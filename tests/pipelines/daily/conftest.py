"""The champion every replay of the daily loop starts from, trained once per session (on SQLite;
the PostgreSQL replay gets a copy of its rows, tests/helpers/daily_replay.copy_rows)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import TrainedProject, make_project_copy
from tests.helpers.daily_replay import train_champion


@pytest.fixture(scope="session")
def champion_2008(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite_template: Path
) -> TrainedProject:
    """A project copy on its own SQLite file whose champion was trained through 2008-09-30;
    a test replays on a private copy of it (tests.conftest.copy_trained_project)."""
    root = make_project_copy(tmp_path_factory.mktemp("champion-2008") / "project")
    shutil.copy(migrated_sqlite_template, root / "data" / "replay.db")
    url = f"sqlite:///{root / 'data' / 'replay.db'}"
    train_champion(root, url)
    return TrainedProject(root=root, database_url=url)
