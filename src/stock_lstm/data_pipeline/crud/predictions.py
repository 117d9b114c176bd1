"""The predictions log: every forecast served, written in batches by the API, read by
monitoring."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline.orm_models import Prediction


def record_predictions(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert served forecasts (the API batches them off the request path, one transaction per
    batch)."""
    if not rows:
        return 0
    session.execute(insert(Prediction), list(rows))
    return len(rows)


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
