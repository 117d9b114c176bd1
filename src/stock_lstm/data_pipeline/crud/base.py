"""What every crud module shares: frozen info dataclasses built from ORM rows (no
session-bound object leaves a transaction), the write lock, the insert chunk size."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import delete, false, func, select, text, update
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline.database import _BUSY_TIMEOUT_PRAGMA as BUSY_TIMEOUT_PRAGMA
from stock_lstm.data_pipeline.orm_models import DataVersion, Prediction

INSERT_CHUNK_ROWS = 5_000
_Info = TypeVar("_Info")


def _from_row(cls: type[_Info], row: Any) -> _Info:
    """A frozen info dataclass from the ORM row whose attributes carry its field names: what
    crud returns, so no session-bound object leaves a transaction."""
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), INSERT_CHUNK_ROWS):
        yield rows[start : start + INSERT_CHUNK_ROWS]


def _lock_stage(session: Session, stage: str) -> None:
    """Serialise saves of one stage until the transaction ends, so two writers of the same
    content cannot both find it missing and store it twice.

    PostgreSQL: a transaction-scoped advisory lock per stage. SQLite: a write that matches no
    row takes the database's write lock before the transaction reads anything (a later upgrade
    from reader to writer could fail instead of waiting for the busy timeout).
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"stock_lstm:{stage}".encode()).digest()[:8], "big")
        session.execute(select(func.pg_advisory_xact_lock(key - (1 << 63))))
    else:
        session.execute(
            update(DataVersion).where(DataVersion.id.is_(None)).values(stage=DataVersion.stage)
        )


def ping(
    session: Session,
) -> None:
    """Raise when the database does not answer."""
    session.execute(select(1))


def probe_write(session: Session) -> None:
    """Raise when the database refuses writes (a read-only file or server): a DELETE that
    matches no row still takes the write path. The caller rolls back; no row is touched. On
    SQLite it does not wait behind another writer (a lock is "locked", not "read-only")."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        session.execute(text("PRAGMA busy_timeout=0"))
    try:
        session.execute(delete(Prediction).where(false()))
    finally:
        if sqlite:
            session.execute(text(BUSY_TIMEOUT_PRAGMA))
