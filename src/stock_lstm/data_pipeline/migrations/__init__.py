"""Alembic migrations, applied automatically on first use of a database and by `make setup`."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
# Alembic keeps its running context in module globals: two migrations at once in one process
# (threads) would corrupt it, so every migration of ours takes this lock.
_ALEMBIC_LOCK = threading.RLock()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of `engine`'s database to `revision` in one transaction."""
    config = alembic_config()
    with _ALEMBIC_LOCK, engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
