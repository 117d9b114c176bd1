"""Reading stage tables: versions, a table as of any version (time travel), the rows a derived
stage must redo, and one ticker's current rows (the API's path)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Table, and_, or_, select
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline.crud.stage_versions import (
    VersionInfo,
    _latest,
    _stage_model,
    _stage_table,
    _ticker_states,
    _typed_frame,
)
from stock_lstm.data_pipeline.orm_models import (
    DataVersion,
    TickerVersion,
)
from stock_lstm.data_pipeline.schema import (
    StageError,
    stage_columns,
)


def latest_version(session: Session, stage: str) -> VersionInfo | None:
    _stage_model(stage)
    row = _latest(session, stage)
    return VersionInfo.of(row) if row is not None else None


def get_version(session: Session, version_id: int) -> VersionInfo | None:
    row = session.get(DataVersion, version_id)
    return VersionInfo.of(row) if row is not None else None


def list_versions(session: Session, stage: str | None = None) -> list[VersionInfo]:
    query = select(DataVersion).order_by(DataVersion.id)
    if stage is not None:
        query = query.where(DataVersion.stage == stage)
    return [VersionInfo.of(row) for row in session.scalars(query)]


@dataclass(frozen=True)
class TickerVersionInfo:
    """One ticker's change in one version (see `ticker_changes`)."""

    version_id: int
    ticker: str
    content_hash: str | None
    row_count: int
    rows_new: int
    rows_restated: int
    rows_removed: int


def ticker_changes(session: Session, version_id: int) -> list[TickerVersionInfo]:
    """The tickers a version changed, with what it did to each."""
    rows = session.scalars(
        select(TickerVersion)
        .where(TickerVersion.version_id == version_id)
        .order_by(TickerVersion.ticker)
    )
    return [
        TickerVersionInfo(
            r.version_id,
            r.ticker,
            r.content_hash,
            r.row_count,
            r.rows_new,
            r.rows_restated,
            r.rows_removed,
        )
        for r in rows
    ]


def _resolve_version(session: Session, stage: str, version_id: int | None) -> DataVersion:
    if version_id is None:
        version = _latest(session, stage)
        if version is None:
            raise StageError(
                f"stage {stage!r} has no data yet: run the pipeline that writes it "
                f"(e.g. `kedro run --pipelines ingestion,cleaning`)"
            )
        return version
    version = session.get(DataVersion, version_id)
    if version is None or version.stage != stage:
        raise StageError(f"stage {stage!r} has no version {version_id}")
    return version


def _valid_at(table: Table, version: DataVersion, newest: bool) -> Any:
    """Rows of the table as of `version`: the open rows when it is the newest version."""
    if newest:
        return table.c.valid_to.is_(None)
    return and_(
        table.c.valid_from <= version.id,
        or_(table.c.valid_to.is_(None), table.c.valid_to > version.id),
    )


def _is_newest(session: Session, version: DataVersion) -> bool:
    latest = _latest(session, version.stage)
    return latest is not None and latest.id == version.id


def load_stage_frame(
    session: Session,
    stage: str,
    version_id: int | None = None,
    *,
    tickers: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The table of `stage` as of a version (latest unless pinned), sorted by (ticker, date),
    with stable dtypes. `frame.attrs` carries `version_id`, `stage` and `source` (training
    records the version it read)."""
    table = _stage_table(stage)
    version = _resolve_version(session, stage, version_id)
    columns = [table.c[name] for name in stage_columns(stage)]
    query = select(*columns).where(_valid_at(table, version, _is_newest(session, version)))
    if tickers is not None:
        query = query.where(table.c.ticker.in_(list(tickers)))
    rows = session.execute(query.order_by(table.c.ticker, table.c.date)).all()
    info = VersionInfo.of(version)
    frame = _typed_frame(rows, stage)
    frame.attrs.update(version_id=info.id, stage=stage, source=info.source)
    return frame


@dataclass(frozen=True)
class StageChanges:
    """What changed in a stage since a derived stage last read it: the version read, the
    version the derived stage had read before, and per changed ticker the first changed date
    (None: redo the whole ticker)."""

    version_id: int
    since_version_id: int | None
    since: dict[str, date | None]


def load_stage_changes(
    session: Session,
    stage: str,
    derived_stage: str,
    version_id: int | None = None,
    *,
    lookback_rows: int | None = None,
) -> tuple[pd.DataFrame, StageChanges]:
    """The rows of `stage` (as of a version, latest unless pinned) that `derived_stage` must
    redo: those of the tickers changed since the version its newest version was derived from.

    Per changed ticker, the rows from its first changed date, plus `lookback_rows` earlier rows
    (a computation that needs the previous close reads it back); ``lookback_rows=None`` gives
    the ticker's whole history. When `derived_stage` is empty, or was derived from a version
    not before this one, every ticker is redone whole.
    """
    table = _stage_table(stage)
    columns = [table.c[name] for name in stage_columns(stage)]
    version = _resolve_version(session, stage, version_id)
    newest = _is_newest(session, version)
    derived = _latest(session, derived_stage)
    read_before = derived.parent_id if derived is not None else None
    if read_before is None or read_before > version.id:
        states = _ticker_states(session, stage, version.id)
        since: dict[str, date | None] = dict.fromkeys(sorted(states))
    else:
        since = _changed_since(session, stage, read_before, version.id)
    valid = _valid_at(table, version, newest)
    frames = []
    whole = [t for t, d in since.items() if d is None or lookback_rows is None]
    if whole:
        query = select(*columns).where(valid, table.c.ticker.in_(whole))
        frames.append(
            _typed_frame(session.execute(query.order_by(table.c.ticker, table.c.date)).all(), stage)
        )
    starts: dict[date, list[str]] = {}  # tickers that read from the same date: one query
    for ticker, first in since.items():
        if ticker not in whole:
            start = _lookback_start(session, table, valid, ticker, first, lookback_rows or 0)
            starts.setdefault(start, []).append(ticker)
    for start, tickers in starts.items():
        query = select(*columns).where(valid, table.c.ticker.in_(tickers), table.c.date >= start)
        frames.append(
            _typed_frame(session.execute(query.order_by(table.c.ticker, table.c.date)).all(), stage)
        )
    changes = StageChanges(version.id, read_before, since)
    source = version.source
    frame = pd.concat(frames, ignore_index=True) if frames else _typed_frame([], stage)
    frame.attrs.update(version_id=changes.version_id, stage=stage, source=source)
    return frame, changes


def _changed_since(session: Session, stage: str, after: int, upto: int) -> dict[str, date | None]:
    """Per ticker changed in versions (after, upto] of `stage`, its first changed date."""
    rows = session.execute(
        select(TickerVersion.ticker, TickerVersion.changed_from)
        .where(
            TickerVersion.stage == stage,
            TickerVersion.version_id > after,
            TickerVersion.version_id <= upto,
        )
        .order_by(TickerVersion.ticker)
    ).all()
    since: dict[str, date | None] = {}
    for ticker, changed_from in rows:
        if ticker in since:
            known = since[ticker]
            since[ticker] = (
                None if known is None or changed_from is None else min(known, changed_from)
            )
        else:
            since[ticker] = changed_from
    return since


def _lookback_start(
    session: Session, table: Table, valid: Any, ticker: str, first: date, rows: int
) -> date:
    """The date `rows` rows before `first` (the ticker's first date when it has fewer)."""
    if rows <= 0:
        return first
    earlier = select(table.c.date).where(valid, table.c.ticker == ticker, table.c.date < first)
    found = session.execute(earlier.order_by(table.c.date.desc()).offset(rows - 1).limit(1)).first()
    if found is not None:
        return found[0]
    oldest = session.execute(earlier.order_by(table.c.date).limit(1)).first()
    return oldest[0] if oldest is not None else first


def stored_tails(session: Session, stage: str, rows: int) -> pd.DataFrame:
    """The newest `rows` rows of each current ticker of `stage` (empty when it has none):
    what incremental ingestion compares a source's overlap with."""
    table = _stage_table(stage)
    columns = [table.c[name] for name in stage_columns(stage)]
    states = _ticker_states(session, stage)
    frames = []
    for ticker in sorted(t for t, s in states.items() if s.content_hash is not None):
        query = (
            select(*columns)
            .where(table.c.ticker == ticker, table.c.valid_to.is_(None))
            .order_by(table.c.date.desc())
            .limit(rows)
        )
        frames.append(list(reversed(session.execute(query).all())))
    return _typed_frame([row for found in frames for row in found], stage)


@dataclass(frozen=True)
class TickerSummary:
    ticker: str
    first_date: date
    last_date: date
    rows: int


def ticker_summaries(session: Session, stage: str = "clean") -> list[TickerSummary]:
    """Each current ticker of `stage` with its date range and row count."""
    _stage_model(stage)
    states = _ticker_states(session, stage)
    return [
        TickerSummary(s.ticker, s.first_date, s.last_date, s.row_count)
        for _, s in sorted(states.items())
        if s.content_hash is not None
    ]


def load_ticker_prices(
    session: Session,
    ticker: str,
    *,
    stage: str = "clean",
    start: date | None = None,
    end: date | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """One ticker's current rows (the newest version), oldest first; `limit` keeps the newest.

    The API's path: the partial index on (ticker, date) of the open rows answers it.
    """
    table = _stage_table(stage)
    version = _resolve_version(session, stage, None)
    columns = [table.c[name] for name in stage_columns(stage)]
    query = select(*columns).where(table.c.ticker == ticker, table.c.valid_to.is_(None))
    if start is not None:
        query = query.where(table.c.date >= start)
    if end is not None:
        query = query.where(table.c.date <= end)
    query = query.order_by(table.c.date.desc())
    if limit is not None:
        query = query.limit(limit)
    rows = list(reversed(session.execute(query).all()))
    version_id = version.id
    frame = _typed_frame(rows, stage)
    frame.attrs.update(version_id=version_id, stage=stage)
    return frame
