"""What stage writes and reads share: the stages, a version's info, each ticker's state as of a
version (its newest `ticker_versions` row), typed frames of stage rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Table, and_, func, select
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline.crud.base import _from_row
from stock_lstm.data_pipeline.crud.stage_hashing import TICKERS_HASH
from stock_lstm.data_pipeline.orm_models import (
    STAGE_MODELS,
    DataVersion,
    TickerVersion,
)
from stock_lstm.data_pipeline.schema import (
    stage_columns,
    stage_frame,
    typed_frame,
)

STAGES = tuple(STAGE_MODELS)


@dataclass(frozen=True)
class VersionInfo:
    id: int
    stage: str
    created_at: datetime
    source: str
    content_hash: str
    row_count: int
    parent_id: int | None
    hash_method: str = TICKERS_HASH
    rows_added: int | None = None
    rows_closed: int | None = None

    @classmethod
    def of(cls, row: DataVersion) -> VersionInfo:
        return _from_row(cls, row)


@dataclass(frozen=True)
class TickerChange:
    """What one save did to one ticker: bars added for new dates, bars whose stored values
    changed (old row closed, new row added), bars no longer given (closed)."""

    new: int = 0
    restated: int = 0
    removed: int = 0

    def describe(self, ticker: str) -> str:
        bars = "bar" if self.new == 1 else "bars"
        text = f"{ticker}: {self.new} new {bars}, {self.restated} restated"
        return f"{text}, {self.removed} removed" if self.removed else text


@dataclass(frozen=True)
class SaveResult:
    version: VersionInfo | None  # the new version, else the latest (None: the stage is empty)
    created: bool  # False when no ticker changed
    changes: dict[str, TickerChange] = field(default_factory=dict)  # changed tickers only


def _stage_model(stage: str):
    stage_frame(stage)  # raises StageError for an unknown stage
    return STAGE_MODELS[stage]


def _stage_table(stage: str) -> Table:
    return _stage_model(stage).__table__


def _typed_frame(rows: Sequence[Any], stage: str) -> pd.DataFrame:
    """Rows of a stage table's frame columns as a typed frame."""
    return typed_frame(pd.DataFrame.from_records(rows, columns=stage_columns(stage)), stage)


def _latest(session: Session, stage: str) -> DataVersion | None:
    return session.scalars(
        select(DataVersion)
        .where(DataVersion.stage == stage)
        .order_by(DataVersion.id.desc())
        .limit(1)
    ).first()


# --- ticker states ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TickerState:
    """A ticker's rows as of a version: their hash (None once removed), count and date range."""

    ticker: str
    content_hash: str | None
    row_count: int
    first_date: date | None
    last_date: date | None


def _ticker_states(
    session: Session,
    stage: str,
    version_id: int | None = None,
    tickers: Sequence[str] | None = None,
) -> dict[str, TickerState]:
    """Each ticker's newest `ticker_versions` row up to `version_id` (default: the newest)."""
    newest = select(TickerVersion.ticker, func.max(TickerVersion.version_id).label("version_id"))
    newest = newest.where(TickerVersion.stage == stage)
    if version_id is not None:
        newest = newest.where(TickerVersion.version_id <= version_id)
    if tickers is not None:
        newest = newest.where(TickerVersion.ticker.in_(list(tickers)))
    newest = newest.group_by(TickerVersion.ticker).subquery()
    rows = session.execute(
        select(
            TickerVersion.ticker,
            TickerVersion.content_hash,
            TickerVersion.row_count,
            TickerVersion.first_date,
            TickerVersion.last_date,
        ).join(
            newest,
            and_(
                TickerVersion.ticker == newest.c.ticker,
                TickerVersion.version_id == newest.c.version_id,
            ),
        )
    ).all()
    return {row.ticker: TickerState(*row) for row in rows}
