"""Alembic migrations, applied automatically on first use of a database and by `make setup`."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent
# The newest revision in versions/ (tests/data_pipeline/test_migration.py checks it): a database
# already there is not handed to Alembic, so a process that only opens it (an API worker) does
# not import Alembic and every revision script. A new revision moves it.
HEAD_REVISION = "0007"
# Alembic keeps its running context in module globals: two migrations at once in one process
# (threads) would corrupt it, so every migration of ours takes this lock.
_ALEMBIC_LOCK = threading.RLock()


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of `engine`'s database to `revision` in one transaction."""
    from alembic import command

    config = alembic_config()
    with _ALEMBIC_LOCK, engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
