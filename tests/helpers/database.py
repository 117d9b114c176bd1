"""Database helpers shared by tests: crud's functions one transaction per call, and the reads
only tests make (the product never counts or lists the predictions log)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import Database, get_database
from stock_lstm.data_pipeline.orm_models import Prediction


def count_predictions(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Prediction)) or 0


def recent_predictions(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """The newest rows of the predictions log first, as dicts."""
    rows = session.scalars(select(Prediction).order_by(Prediction.id.desc()).limit(limit))
    return [
        {
            "created_at": r.created_at,
            "request_id": r.request_id,
            "ticker": r.ticker,
            "origin_date": r.origin_date,
            "model_version": r.model_version,
            "horizon": r.horizon,
            "values": r.values,
            "latency_ms": r.latency_ms,
        }
        for r in rows
    ]


class CrudOn:
    """`crud`'s session-taking functions (and the helpers above) bound to one database, each
    call in a transaction of its own: ``crud_on(url).save_stage_frame(frame, "raw", ...)`` is
    ``with get_database(url).session() as s: crud.save_stage_frame(s, frame, "raw", ...)``.
    What a test means by "save this, then read that"."""

    _HELPERS = {"count_predictions": count_predictions, "recent_predictions": recent_predictions}

    def __init__(self, database: Database) -> None:
        self.database = database

    def __getattr__(self, name: str) -> Callable[..., Any]:
        function = self._HELPERS.get(name) or getattr(crud, name)

        def in_a_session(*args: Any, **kwargs: Any) -> Any:
            with self.database.session() as session:
                return function(session, *args, **kwargs)

        return in_a_session


def crud_on(database: Database | str | None = None) -> CrudOn:
    """`CrudOn` a `Database`, or the one of a URL (default: settings' DATABASE_URL)."""
    return CrudOn(database if isinstance(database, Database) else get_database(database))


def migrated_engine(url: str) -> Engine:
    """The engine of `url`'s `Database`, its schema at head."""
    database = get_database(url)
    database.migrate()
    return database.engine
