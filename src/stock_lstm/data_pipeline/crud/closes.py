"""What a stored-ticker forecast reads: a ticker's newest closes as a float array and their last
date, and the stage's newest version id (what tells a reader its copy is current). Rows and
arrays, no DataFrame: the API's hot path imports no pandas.

`newest_closes` is one statement on the partial index of the open rows (ticker, date) that
also returns the stage's newest version id, so the closes and the version they belong to come
from one snapshot. `StageVersionProbe` asks for that id on a DBAPI connection of its own (one
indexed query, microseconds on SQLite): the API's closes cache calls it before every hit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Select, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline.database import Database
from stock_lstm.data_pipeline.orm_models import STAGE_MODELS, DataVersion


@dataclass(frozen=True)
class StoredCloses:
    """A ticker's newest closes (oldest first) as of the stage's version `version_id`."""

    version_id: int
    closes: np.ndarray  # float64; a NULL close is NaN (the forecaster refuses it by name)
    last_date: date


def newest_version_statement(stage: str) -> Select[Any]:
    """The stage's newest data version id (NULL: none yet): a covering-index lookup."""
    return select(func.max(DataVersion.id)).where(DataVersion.stage == stage)


def newest_closes(
    session: Session, ticker: str, rows: int, *, stage: str = "clean"
) -> StoredCloses | None:
    """The newest `rows` closes of `ticker`'s current rows, or None when the stage has no such
    ticker (or no version at all). Fewer than `rows` when fewer are stored."""
    table = STAGE_MODELS[stage].__table__
    query = (
        select(
            table.c.date,
            table.c.close,
            newest_version_statement(stage).scalar_subquery(),
        )
        .where(table.c.ticker == ticker, table.c.valid_to.is_(None))
        .order_by(table.c.date.desc())
        .limit(rows)
    )
    found = session.execute(query).all()
    if not found or found[0][2] is None:
        return None
    closes = np.array([row[1] for row in reversed(found)], dtype=np.float64)
    return StoredCloses(version_id=found[0][2], closes=closes, last_date=found[0][0])


class StageVersionProbe:
    """The newest version id of one stage, read on a DBAPI connection of its own (outside the
    pool, in autocommit: every call sees what is committed now). Thread-safe. A connection
    that fails is dropped and the error raised (as SQLAlchemy's DBAPIError); the next call
    connects again."""

    def __init__(self, database: Database, stage: str = "clean") -> None:
        self._database = database
        compiled = newest_version_statement(stage).compile(dialect=database.engine.dialect)
        self._sql = str(compiled)
        self._params: Any = (
            tuple(compiled.params[name] for name in compiled.positiontup or ())
            if compiled.positional
            else compiled.params
        )
        self._connection: Any = None
        self._lock = threading.Lock()

    @property
    def local(self) -> bool:
        """True when a call is a read of a local file (SQLite), no network round trip."""
        return self._database.backend == "sqlite"

    def __call__(self) -> int | None:
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = self._connect()
                cursor = self._connection.cursor()
                try:
                    cursor.execute(self._sql, self._params)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except Exception as error:
                self._drop()
                dbapi = self._database.engine.dialect.loaded_dbapi
                if isinstance(error, dbapi.Error):  # what the app answers 503 to, as any read
                    raise DBAPIError.instance(
                        self._sql, self._params, error, dbapi.Error
                    ) from error
                raise
            return row[0] if row is not None else None

    def _connect(self) -> Any:
        self._database.migrate()  # the first read of a fresh database creates the schema
        connection = self._database.engine.raw_connection()
        if self._database.backend == "postgresql":
            connection.rollback()  # the pool's pre-ping may have begun a transaction
            connection.driver_connection.autocommit = True
        connection.detach()  # held for the worker's life: not a pool slot
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: nothing to release
                pass

    def close(self) -> None:
        with self._lock:
            self._drop()
