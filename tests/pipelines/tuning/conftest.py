"""Fixtures of the tuning tests that share one Optuna study across processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool


@pytest.fixture
def study_schema(postgres_url: str) -> Iterator[str]:
    """A schema of the test's own for the study's tables (Optuna's), dropped afterwards."""
    schema = f"optuna_{uuid.uuid4().hex[:12]}"
    yield schema
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def count_rows(postgres_url: str, schema: str, table: str) -> int:
    """How many rows `schema.table` of the database holds (a study's Optuna tables)."""
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.connect() as connection:
        found = connection.execute(text(f'SELECT count(*) FROM "{schema}".{table}')).scalar()  # noqa: S608
    engine.dispose()
    return int(found)
