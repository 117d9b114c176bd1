"""The predictions log: every forecast served, written in batches by the API, read by
monitoring."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from stock_lstm.common.lazy import lazy_module
from stock_lstm.data_pipeline.orm_models import Prediction

if TYPE_CHECKING:
    import pandas as pd
else:  # the API writes the log without pandas; monitoring's read imports it
    pd = lazy_module("pandas")


def record_predictions(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert served forecasts (the API batches them off the request path, one transaction per
    batch). A row whose `log_key` is already stored is skipped: a worker's spool replayed after
    a crash stores each forecast once."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect in _UPSERT_INSERTS:
        statement = _UPSERT_INSERTS[dialect](Prediction).on_conflict_do_nothing(
            index_elements=["log_key"]
        )
    else:
        statement = insert(Prediction)
    session.execute(statement, list(rows))
    return len(rows)


_UPSERT_INSERTS = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}


def load_logged_forecasts(session: Session, since: datetime | None = None) -> pd.DataFrame:
    """The predictions log as monitoring reads it: id, ticker, origin_date, model_version and
    values, oldest first (created at or after `since` when given)."""
    query = select(
        Prediction.id,
        Prediction.ticker,
        Prediction.origin_date,
        Prediction.model_version,
        Prediction.values,
    ).order_by(Prediction.id)
    if since is not None:
        query = query.where(Prediction.created_at >= since)
    rows = session.execute(query).all()
    return pd.DataFrame(
        [tuple(r) for r in rows], columns=["id", "ticker", "origin_date", "model_version", "values"]
    )
