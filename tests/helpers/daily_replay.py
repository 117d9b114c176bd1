"""The daily loop's replays on the snapshot (tests/pipelines/daily): a tiny champion trained
through 2008-09-30, then `ingestion.end` stepped one trading day at a time into autumn 2008."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from sqlalchemy import DateTime, create_engine, func, select
from sqlalchemy.pool import NullPool

from stock_lstm.data_pipeline.database import dispose_engines
from stock_lstm.data_pipeline.orm_models import Base
from tests.conftest import mlflow_store

TRAINED_THROUGH = "2008-09-30"
START = "2006-01-01"


def replay_params(end: str) -> dict:
    """Runtime parameters of a replayed day: the snapshot from START through `end`."""
    return {"ingestion": {"start": START, "end": end}}


def train_champion(root: Path, database_url: str) -> None:
    """Every pipeline of env "test" run once on the project copy `root` through
    TRAINED_THROUGH: the tiny champion a replay starts from."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", database_url)
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store(root))
        patch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
        patch.chdir(root)
        bootstrap_project(root)
        with KedroSession.create(
            project_path=root, env="test", runtime_params=replay_params(TRAINED_THROUGH)
        ) as session:
            session.run()
    dispose_engines()


def copy_rows(source_url: str, target_url: str) -> None:
    """Every row of the database `source_url` written into `target_url` (both migrated to
    head, the target empty): the champion trained once on SQLite, registered as it is on
    PostgreSQL. SQLite hands back its UTC timestamps without a zone: they get UTC again; a
    PostgreSQL id sequence goes on after the copied ids."""
    source = create_engine(source_url, poolclass=NullPool)
    target = create_engine(target_url, poolclass=NullPool)
    try:
        with source.connect() as read, target.begin() as write:
            for table in Base.metadata.sorted_tables:
                zoned = {
                    c.name
                    for c in table.columns
                    if isinstance(c.type, DateTime) and c.type.timezone
                }
                rows = [
                    {
                        name: value.replace(tzinfo=dt.UTC)
                        if name in zoned and isinstance(value, dt.datetime) and value.tzinfo is None
                        else value
                        for name, value in row.items()
                    }
                    for row in read.execute(table.select()).mappings()
                ]
                if rows:
                    write.execute(table.insert(), rows)
                if write.dialect.name == "postgresql" and "id" in table.columns:
                    last = func.max(table.c.id)
                    sequence = func.pg_get_serial_sequence(table.name, "id")
                    write.execute(
                        select(func.setval(sequence, func.coalesce(last, 1), last.isnot(None)))
                    )
    finally:
        source.dispose()
        target.dispose()
