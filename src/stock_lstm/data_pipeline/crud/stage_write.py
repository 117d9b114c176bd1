"""The one module that reads and writes the database.

Every public function takes a `Session` first: the caller owns the transaction
(``with database.session() as session:``, see `database.Database`), so several reads or
writes can share one. A write that must land whole (a stage save, a promotion, a monitoring
run) is whole within that transaction: it commits when the caller's block ends, and nothing of
it remains when the block raises.

Stage tables (raw_prices, clean_prices, features) are versioned by change. A row is valid from
the version that added it (`valid_from`) until the version that replaced or removed it
(`valid_to`, null while it is current), so the table as of version V is the rows with
``valid_from <= V`` and ``valid_to`` null or ``> V``. A save compares each ticker of the frame
with what is stored and writes only the difference: new bars, restated bars (the old row
closed, a new row added) and bars no longer given (closed). A ticker whose rows are unchanged
writes nothing; a save that changes nothing writes no version at all. Tickers the frame does not
mention keep their rows: ticker sets accumulate, and `remove_ticker` is the one way to drop one.

Each version records, per changed ticker, the ticker's new content hash (`ticker_versions`);
the version's `content_hash` combines every ticker's hash as of that version, so a pinned load
can be checked against what was recorded when it was written (`table_hash`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline.database import Database
from stock_lstm.data_pipeline.orm_models import (
    STAGE_MODELS,
    DataVersion,
    DriftResult,
    ModelVersion,
    ModelVersionEvent,
    MonitoringDecision,
    MonitoringRun,
    Prediction,
    RealizedScore,
    ShadowForecast,
    TickerVersion,
)
from stock_lstm.data_pipeline.schema import (
    KEY,
    FrameSchemaError,
    StageError,
    TableColumns,
    as_kind,
    python_values,
    stage_columns,
    stage_frame,
    table_columns,
    typed_frame,
)

STAGES = tuple(STAGE_MODELS)
INSERT_CHUNK_ROWS = 5_000
FLOAT_HASH_FORMAT = "%.17g"  # round-trips a float64 exactly, so a reload hashes the same
# hash_method of a version: how its content_hash was computed (see table_hash)
TABLE_HASH = "table"  # sha256 of the whole canonical CSV: versions written before migration 0002
TICKERS_HASH = "tickers"  # sha256 of the per-ticker hashes: every version since
# Two keys give each row a 128-bit hash (pandas' siphash of the row's values).
ROW_HASH_KEYS = ("stocklstm-row-01", "stocklstm-row-02")
_MASK64 = (1 << 64) - 1
_Info = TypeVar("_Info")


def _from_row(cls: type[_Info], row: Any) -> _Info:
    """A frozen info dataclass from the ORM row whose attributes carry its field names: what
    crud returns, so no session-bound object leaves a transaction."""
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


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


def canonical_frame(frame: pd.DataFrame, stage: str) -> pd.DataFrame:
    """The stage's columns in table order, typed and sorted by (ticker, date): what gets hashed."""
    typed = typed_frame(frame, stage)
    return typed.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


def content_hash(frame: pd.DataFrame) -> str:
    """sha256 of a canonical frame's text: equal content, equal hash, whatever the row order.

    The `table` hash method: how every version was identified before migration 0002.
    """
    text = frame.to_csv(
        index=False, float_format=FLOAT_HASH_FORMAT, na_rep="", date_format="%Y-%m-%d"
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _row_hashes(canonical: pd.DataFrame) -> np.ndarray:
    """A 128-bit hash per row (two uint64 columns) of a canonical frame."""
    if canonical.empty:
        return np.zeros((0, 2), dtype=np.uint64)
    return np.column_stack(
        [
            pd.util.hash_pandas_object(canonical, index=False, hash_key=key).to_numpy()
            for key in ROW_HASH_KEYS
        ]
    )


def _hash_sum(hashes: np.ndarray) -> tuple[int, int]:
    """The rows' hashes summed (mod 2**64 per half): order-free, and a change updates it by
    adding the new rows and subtracting the closed ones, without reading the others."""
    with np.errstate(over="ignore"):
        total = hashes.sum(axis=0, dtype=np.uint64)
    return int(total[0]), int(total[1])


def _hash_text(value: tuple[int, int]) -> str:
    return f"{value[0]:016x}{value[1]:016x}"


def _hash_value(text: str) -> tuple[int, int]:
    return int(text[:16], 16), int(text[16:32], 16)


def _hash_add(a: tuple[int, int], b: tuple[int, int], sign: int = 1) -> tuple[int, int]:
    return (a[0] + sign * b[0]) & _MASK64, (a[1] + sign * b[1]) & _MASK64


def ticker_hash(frame: pd.DataFrame, stage: str) -> str:
    """The content hash of one ticker's rows (any order): what `ticker_versions` records."""
    return _hash_text(_hash_sum(_row_hashes(canonical_frame(frame, stage))))


def _tickers_digest(states: Mapping[str, str]) -> str:
    lines = "".join(f"{ticker}:{digest}\n" for ticker, digest in sorted(states.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def table_hash(frame: pd.DataFrame, stage: str, method: str = TICKERS_HASH) -> str:
    """The content hash of a whole table as a version records it (its `hash_method`):
    ``tickers``: sha256 of each ticker's row hash; ``table``: sha256 of the canonical CSV."""
    canonical = canonical_frame(frame, stage)
    if method == TABLE_HASH:
        return content_hash(canonical)
    if method != TICKERS_HASH:
        raise StageError(f"unknown hash method {method!r}")
    hashes = _row_hashes(canonical)
    states = {}
    for ticker, positions in canonical.groupby("ticker", sort=True).indices.items():
        states[str(ticker)] = _hash_text(_hash_sum(hashes[positions]))
    return _tickers_digest(states)


def _records(frame: pd.DataFrame, stage: str) -> Iterable[list[dict[str, Any]]]:
    """The frame's rows as insert parameters, INSERT_CHUNK_ROWS at a time (a large frame is
    never all Python dicts at once)."""
    kinds = stage_frame(stage).kinds
    for start in range(0, len(frame), INSERT_CHUNK_ROWS):
        chunk = frame.iloc[start : start + INSERT_CHUNK_ROWS]
        converted = {name: python_values(chunk[name], kinds[name]) for name in chunk.columns}
        names = list(converted)
        yield [
            dict(zip(names, values, strict=True))
            for values in zip(*converted.values(), strict=True)
        ]


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), INSERT_CHUNK_ROWS):
        yield rows[start : start + INSERT_CHUNK_ROWS]


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


# --- saving -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TickerPlan:
    """What a save records for one changed ticker."""

    change: TickerChange
    state: TickerState
    changed_from: date | None


@dataclass(frozen=True)
class _Plan:
    """What a save writes: the rows to add, the (ticker, date) rows to close, per ticker."""

    insert: pd.DataFrame
    close: pd.DataFrame  # ticker, date
    tickers: dict[str, _TickerPlan]


def _sums_by_ticker(tickers: pd.Series, hashes: np.ndarray) -> dict[str, tuple[int, int]]:
    """Per ticker, the sum of its rows' hashes (mod 2**64 per half), in one pass."""
    codes, names = pd.factorize(tickers, sort=False)
    totals = np.zeros((len(names), 2), dtype=np.uint64)
    np.add.at(totals, codes, hashes)
    return {str(name): (int(a), int(b)) for name, (a, b) in zip(names, totals, strict=True)}


def _stored_rows(session: Session, stage: str, windows: Mapping[str, date | None]) -> pd.DataFrame:
    """The open rows of the tickers in `windows`, from each one's date on (all when None):
    one query per distinct start date."""
    table = _stage_table(stage)
    columns = [table.c[name] for name in stage_columns(stage)]
    by_start: dict[date | None, list[str]] = {}
    for ticker, start in windows.items():
        by_start.setdefault(start, []).append(ticker)
    frames = []
    for start, tickers in by_start.items():
        query = select(*columns).where(table.c.ticker.in_(tickers), table.c.valid_to.is_(None))
        if start is not None:
            query = query.where(table.c.date >= start)
        frames.append(_typed_frame(session.execute(query).all(), stage))
    return pd.concat(frames, ignore_index=True) if frames else _typed_frame([], stage)


def _plan_save(
    session: Session,
    stage: str,
    incoming: pd.DataFrame,
    windows: Mapping[str, date | None],
    stored: Mapping[str, TickerState],
) -> _Plan:
    """The rows to add and close so that each ticker's rows from its window's start on (all
    when None) equal `incoming`'s. A ticker whose stored rows all reappear unchanged only gets
    its new rows appended, without reading anything back; the others are diffed against their
    stored rows of the window, all tickers at once."""
    hashes = _row_hashes(incoming)
    positions = incoming.groupby("ticker", sort=False).indices
    empty = np.zeros(0, dtype=np.int64)
    appended: list[np.ndarray] = []
    plans: dict[str, _TickerPlan] = {}
    to_diff: dict[str, date | None] = {}
    dates = incoming["date"].to_numpy()
    for ticker, start in windows.items():
        where = positions.get(ticker, empty)
        state = stored.get(ticker)
        if state is None or state.content_hash is None:
            if len(where):
                appended.append(where)
                first, last = dates[where].min(), dates[where].max()
                plans[ticker] = _TickerPlan(
                    TickerChange(new=len(where)),
                    TickerState(
                        ticker,
                        _hash_text(_hash_sum(hashes[where])),
                        len(where),
                        pd.Timestamp(first).date(),
                        pd.Timestamp(last).date(),
                    ),
                    pd.Timestamp(first).date(),
                )
            continue
        covers_all = start is None or start <= state.first_date
        old = dates[where] <= np.datetime64(state.last_date, "ns")
        stored_hash = _hash_value(state.content_hash)
        if covers_all and _hash_sum(hashes[where[old]]) == stored_hash:
            added = where[~old]
            if len(added):
                appended.append(added)
                total = _hash_add(stored_hash, _hash_sum(hashes[added]))
                plans[ticker] = _TickerPlan(
                    TickerChange(new=len(added)),
                    TickerState(
                        ticker,
                        _hash_text(total),
                        state.row_count + len(added),
                        state.first_date,
                        pd.Timestamp(dates[added].max()).date(),
                    ),
                    pd.Timestamp(dates[added].min()).date(),
                )
            continue
        to_diff[ticker] = start
    inserts = [incoming.iloc[np.concatenate(appended)]] if appended else []
    closes = []
    if to_diff:
        diffed, closed, diff_plans = _diff(session, stage, incoming, hashes, to_diff, stored)
        inserts.append(diffed)
        closes.append(closed)
        plans.update(diff_plans)
    key = ["ticker", "date"]
    return _Plan(
        pd.concat(inserts, ignore_index=True) if inserts else incoming.iloc[0:0],
        pd.concat(closes, ignore_index=True) if closes else incoming[key].iloc[0:0],
        plans,
    )


def _diff(
    session: Session,
    stage: str,
    incoming: pd.DataFrame,
    hashes: np.ndarray,
    windows: Mapping[str, date | None],
    stored: Mapping[str, TickerState],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, _TickerPlan]]:
    """New, restated and removed rows of the `windows` tickers, compared with what is stored."""
    mine = incoming["ticker"].isin(list(windows)).to_numpy()
    given = incoming[mine]
    given_hashes = hashes[mine]
    current = _stored_rows(session, stage, windows)
    merged = current.merge(
        given.reset_index(drop=True).assign(_given=np.arange(len(given))),
        on=["ticker", "date"],
        how="outer",
        suffixes=("_old", ""),
        indicator=True,
    )
    both = (merged["_merge"] == "both").to_numpy()
    differs = np.zeros(len(merged), dtype=bool)
    for name in stage_frame(stage).without(*KEY):
        old, new = merged[f"{name}_old"], merged[name]
        unequal = ((old != new) & ~(old.isna() & new.isna())).fillna(True)
        differs |= unequal.to_numpy(dtype=bool)
    restated = both & differs
    new = (merged["_merge"] == "right_only").to_numpy()
    removed = (merged["_merge"] == "left_only").to_numpy()
    added_at = merged.loc[restated | new, "_given"].astype(int).to_numpy()
    inserted = given.iloc[np.sort(added_at)]
    closing = merged.loc[restated | removed, ["ticker", "date"]].reset_index(drop=True)
    closed_rows = current.merge(closing, on=["ticker", "date"])
    plus = _sums_by_ticker(inserted["ticker"], given_hashes[np.sort(added_at)])
    minus = _sums_by_ticker(closed_rows["ticker"], _row_hashes(closed_rows))
    counts = (
        pd.DataFrame(
            {
                "ticker": merged["ticker"],
                "new": new,
                "restated": restated,
                "removed": removed,
            }
        )
        .groupby("ticker")[["new", "restated", "removed"]]
        .sum()
    )
    touched = pd.concat([inserted[["ticker", "date"]], closing]).groupby("ticker")["date"].min()
    given_range = given.groupby("ticker")["date"].agg(["min", "max"])
    plans: dict[str, _TickerPlan] = {}
    for ticker in windows:
        if ticker not in touched.index:
            continue
        state = stored[ticker]
        n_new, n_restated, n_removed = (int(counts.at[ticker, c]) for c in counts.columns)
        n_closed = n_restated + n_removed
        n_added = n_new + n_restated
        total = _hash_add(_hash_value(state.content_hash), minus.get(ticker, (0, 0)), sign=-1)
        total = _hash_add(total, plus.get(ticker, (0, 0)))
        row_count = state.row_count - n_closed + n_added
        if row_count == 0:
            new_state = TickerState(ticker, None, 0, None, None)
        else:
            start = windows[ticker]
            covers_all = start is None or start <= state.first_date
            first = None if covers_all else state.first_date
            last = None
            if ticker in given_range.index:  # rows from the window's start now equal these
                first = first or given_range.at[ticker, "min"].date()
                last = given_range.at[ticker, "max"].date()
            if first is None or last is None:
                first, last = _stored_range(session, stage, ticker, closing, inserted)
            new_state = TickerState(ticker, _hash_text(total), row_count, first, last)
        plans[ticker] = _TickerPlan(
            TickerChange(new=n_new, restated=n_restated, removed=n_removed),
            new_state,
            touched[ticker].date(),
        )
    return inserted, closing, plans


def _stored_range(
    session: Session, stage: str, ticker: str, closing: pd.DataFrame, inserted: pd.DataFrame
) -> tuple[date, date]:
    """First and last date of `ticker` once `closing` is closed and `inserted` added."""
    table = _stage_table(stage)
    closed_dates = [d.date() for d in closing.loc[closing["ticker"] == ticker, "date"]]
    query = select(table.c.date).where(table.c.ticker == ticker, table.c.valid_to.is_(None))
    if closed_dates:
        query = query.where(table.c.date.not_in(closed_dates))
    kept = [row[0] for row in session.execute(query).all()]
    dates = kept + [d.date() for d in inserted.loc[inserted["ticker"] == ticker, "date"]]
    return min(dates), max(dates)


def save_stage_frame(
    session: Session,
    frame: pd.DataFrame,
    stage: str,
    *,
    source: str,
    parent_id: int | None = None,
    since: Mapping[str, date | None] | None = None,
) -> SaveResult:
    """Store what `frame` changes in `stage` as one new version; nothing when it changes nothing.

    Each ticker of the frame is replaced from a date on: ``since[ticker]`` (None = its whole
    history) when given, else the ticker's first date in the frame, so a frame of recent bars
    leaves older ones alone. Rows of the frame before that date are ignored (a lookback).
    A ticker named in ``since`` but absent from the frame loses its rows from that date.
    Tickers neither in the frame nor in ``since`` are untouched.

    The version row, the ticker states and every data row land together or not at all: they
    are written in the caller's transaction, after taking the stage's lock (`_lock_stage`),
    held until it ends, so keep the save the last thing the transaction does.
    """
    canonical = canonical_frame(frame, stage)
    firsts = canonical.groupby("ticker", sort=True)["date"].min()
    windows: dict[str, date | None] = {str(t): d.date() for t, d in firsts.items()}
    if since is not None:
        windows = {**windows, **{str(t): d for t, d in since.items()}}
    starts = pd.to_datetime(
        canonical["ticker"].map({t: pd.Timestamp(d) for t, d in windows.items() if d is not None})
    ).astype("datetime64[ns]")
    incoming = canonical[starts.isna() | (canonical["date"] >= starts)].reset_index(drop=True)
    table = _stage_table(stage)
    _lock_stage(session, stage)
    latest = _latest(session, stage)
    if parent_id is not None and session.get(DataVersion, parent_id) is None:
        raise StageError(f"cannot save stage {stage!r}: parent version {parent_id} does not exist")
    stored = _ticker_states(session, stage, tickers=list(windows)) if windows else {}
    plan = _plan_save(session, stage, incoming, windows, stored)
    plans = plan.tickers
    if not plans:
        return SaveResult(VersionInfo.of(latest) if latest is not None else None, False)
    version = DataVersion(
        stage=stage,
        source=source[:255],
        content_hash="",
        hash_method=TICKERS_HASH,
        row_count=0,
        rows_added=len(plan.insert),
        rows_closed=len(plan.close),
        parent_id=parent_id,
    )
    session.add(version)
    session.flush()
    _close_rows(session, table, version.id, plan.close)
    if not plan.insert.empty:
        for chunk in _records(plan.insert, stage):
            for row in chunk:
                row["valid_from"] = version.id
            session.execute(insert(table), chunk)
    session.execute(
        insert(TickerVersion.__table__),
        [
            {
                "version_id": version.id,
                "ticker": ticker,
                "stage": stage,
                "content_hash": one.state.content_hash,
                "row_count": one.state.row_count,
                "first_date": one.state.first_date,
                "last_date": one.state.last_date,
                "changed_from": one.changed_from,
                "rows_new": one.change.new,
                "rows_restated": one.change.restated,
                "rows_removed": one.change.removed,
            }
            for ticker, one in plans.items()
        ],
    )
    states = _ticker_states(session, stage)
    current = {t: s.content_hash for t, s in states.items() if s.content_hash is not None}
    version.content_hash = _tickers_digest(current)
    version.row_count = sum(s.row_count for s in states.values() if s.content_hash)
    session.flush()
    changes = {ticker: plans[ticker].change for ticker in sorted(plans)}
    return SaveResult(VersionInfo.of(version), True, changes)


def _close_rows(session: Session, table: Table, version_id: int, close: pd.DataFrame) -> None:
    closing = [
        {"close_ticker": ticker, "close_date": day.date()}
        for ticker, day in zip(close["ticker"], close["date"], strict=True)
    ]
    if not closing:
        return
    statement = (
        update(table)
        .where(
            table.c.ticker == bindparam("close_ticker"),
            table.c.date == bindparam("close_date"),
            table.c.valid_to.is_(None),
        )
        .values(valid_to=version_id)
    )
    for chunk in _chunks(closing):
        session.execute(statement, chunk)


def remove_ticker(session: Session, ticker: str, *, source: str = "remove-ticker"):
    """Remove `ticker` from every stage that holds it: one new version per such stage, in the
    caller's transaction (clean's removal records raw's as parent, features' records clean's). The rows
    stay readable through the versions before. Returns the versions written, by stage."""
    ticker = ticker.strip().upper()
    written: dict[str, VersionInfo] = {}
    parent: int | None = None
    for stage in STAGE_MODELS:
        _lock_stage(session, stage)
        state = _ticker_states(session, stage, tickers=[ticker]).get(ticker)
        if state is None or state.content_hash is None:
            continue
        result = _save_removal(session, stage, ticker, state, source, parent)
        written[stage] = result
        parent = result.id
    if not written:
        raise StageError(f"ticker {ticker!r} is not stored in any stage: nothing to remove")
    return written


def _save_removal(
    session: Session, stage: str, ticker: str, state: TickerState, source: str, parent: int | None
) -> VersionInfo:
    table = _stage_table(stage)
    version = DataVersion(
        stage=stage,
        source=f"{source} {ticker}"[:255],
        content_hash="",
        hash_method=TICKERS_HASH,
        row_count=0,
        rows_added=0,
        rows_closed=state.row_count,
        parent_id=parent,
    )
    session.add(version)
    session.flush()
    session.execute(
        update(table)
        .where(table.c.ticker == ticker, table.c.valid_to.is_(None))
        .values(valid_to=version.id)
    )
    session.execute(
        insert(TickerVersion.__table__),
        [
            {
                "version_id": version.id,
                "ticker": ticker,
                "stage": stage,
                "content_hash": None,
                "row_count": 0,
                "changed_from": state.first_date,
                "rows_new": 0,
                "rows_restated": 0,
                "rows_removed": state.row_count,
            }
        ],
    )
    states = _ticker_states(session, stage)
    current = {t: s.content_hash for t, s in states.items() if s.content_hash is not None}
    version.content_hash = _tickers_digest(current)
    version.row_count = sum(s.row_count for s in states.values() if s.content_hash)
    session.flush()
    return VersionInfo.of(version)


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


# --- reading ----------------------------------------------------------------------------------


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


def _typed_frame(rows: Sequence[Any], stage: str) -> pd.DataFrame:
    """Rows of a stage table's frame columns as a typed frame."""
    return typed_frame(pd.DataFrame.from_records(rows, columns=stage_columns(stage)), stage)


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


# --- model versions: the registry ------------------------------------------------------------

REGISTRY_CHANNEL = "stock_lstm_model_registry"  # PostgreSQL NOTIFY channel of champion changes
LISTEN_SLICE_S = 0.5  # a listener looks at its stop event at least this often
_LISTEN_STATEMENT = 'LISTEN "stock_lstm_model_registry"'  # REGISTRY_CHANNEL, a constant


class UnknownModelVersion(LookupError):
    """No model_versions row has that version."""


@dataclass(frozen=True)
class ModelVersionInfo:
    model_version: str
    trained_at: datetime
    data_version_id: int | None
    parameters: dict[str, Any]
    metrics: dict[str, Any]
    model_sha256: str
    scaler_sha256: str
    mlflow_run_id: str | None = None
    status: str = "candidate"
    serving_sha256: dict[str, str] | None = None


@dataclass(frozen=True)
class RegistryEvent:
    model_version: str
    from_status: str | None
    to_status: str
    at: datetime
    reason: str
    actor: str


@dataclass(frozen=True)
class Promotion:
    champion: str
    previous: str | None
    changed: bool  # False when the version already was the champion (nothing recorded)


def _model_info(row: ModelVersion) -> ModelVersionInfo:
    return _from_row(ModelVersionInfo, row)


def _model_row(session: Session, model_version: str) -> ModelVersion | None:
    """The row as the database has it now: `populate_existing` refreshes a copy the session
    loaded earlier in the transaction (before the registry's lock, say), so a status read
    after the lock is never stale."""
    return session.scalars(
        select(ModelVersion)
        .where(ModelVersion.model_version == model_version)
        .execution_options(populate_existing=True)
    ).first()


def record_model_version(
    session: Session,
    *,
    model_version: str,
    trained_at: datetime,
    data_version_id: int | None,
    parameters: dict[str, Any],
    metrics: dict[str, Any],
    model_sha256: str,
    scaler_sha256: str,
    serving_sha256: dict[str, str] | None = None,
    promote: bool = False,
    reason: str = "evaluated",
    actor: str = "evaluation",
    mlflow_run_id: str | None = None,
) -> ModelVersionInfo:
    """Insert (a new candidate, audited) or update (re-evaluation, status kept) one model
    version's row; with `promote`, make it the champion in the same transaction. An update
    keeps the row's MLflow run id unless one is given."""
    lock_registry(session)
    row = _model_row(session, model_version)
    created = row is None
    if row is None:
        row = ModelVersion(model_version=model_version, status="candidate")
        session.add(row)
    row.trained_at = trained_at
    row.data_version_id = data_version_id
    row.parameters = parameters
    row.metrics = metrics
    row.model_sha256 = model_sha256
    row.scaler_sha256 = scaler_sha256
    if mlflow_run_id is not None:
        row.mlflow_run_id = mlflow_run_id
    row.serving_sha256 = serving_sha256
    session.flush()
    if created:
        _audit(session, model_version, None, "candidate", "evaluated", actor)
    if promote:
        _promote(session, row, reason=reason, actor=actor)
    return _model_info(row)


def set_model_version_mlflow_run(session: Session, model_version: str, mlflow_run_id: str) -> None:
    """Link a recorded model version to the MLflow run that trained it."""
    updated = session.execute(
        update(ModelVersion)
        .where(ModelVersion.model_version == model_version)
        .values(mlflow_run_id=mlflow_run_id)
    )
    if updated.rowcount == 0:
        raise LookupError(f"no model_versions row for model version {model_version}")


def get_model_version(
    session: Session, model_version: str | None = None
) -> ModelVersionInfo | None:
    """A model version's row, or the newest one when no version is named."""
    query = select(ModelVersion)
    if model_version is None:
        query = query.order_by(ModelVersion.id.desc()).limit(1)
    else:
        query = query.where(ModelVersion.model_version == model_version)
    row = session.scalars(query).first()
    return _model_info(row) if row is not None else None


def list_model_versions(
    session: Session,
) -> list[ModelVersionInfo]:
    """Every recorded model version, newest first."""
    rows = session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()))
    return [_model_info(row) for row in rows]


def champion_version(
    session: Session,
) -> str | None:
    """The version every API worker serves, or None (cheap: the workers poll it)."""
    return session.scalar(
        select(ModelVersion.model_version).where(ModelVersion.status == "champion")
    )


def previous_champion(
    session: Session,
) -> str | None:
    """The version most recently replaced as champion (what a rollback serves), or None."""
    current = session.scalar(
        select(ModelVersion.model_version).where(ModelVersion.status == "champion")
    )
    query = (
        select(ModelVersionEvent.model_version)
        .where(ModelVersionEvent.from_status == "champion")
        .order_by(ModelVersionEvent.id.desc())
    )
    if current is not None:
        query = query.where(ModelVersionEvent.model_version != current)
    return session.scalars(query.limit(1)).first()


def promote_model_version(
    session: Session, model_version: str, *, reason: str, actor: str
) -> Promotion:
    """Make `model_version` the champion (the old one retires), audited, in the caller's
    transaction (the registry's lock is held until it ends); PostgreSQL notifies every
    listening worker when it commits. Promoting the champion changes nothing."""
    lock_registry(session)
    row = _model_row(session, model_version)
    if row is None:
        raise UnknownModelVersion(f"unknown model version {model_version!r}")
    return _promote(session, row, reason=reason, actor=actor)


def registry_events(session: Session, limit: int = 200) -> list[RegistryEvent]:
    """The registry's audit trail, newest first."""
    rows = session.scalars(
        select(ModelVersionEvent).order_by(ModelVersionEvent.id.desc()).limit(limit)
    )
    return [_from_row(RegistryEvent, r) for r in rows]


def _promote(session: Session, row: ModelVersion, *, reason: str, actor: str) -> Promotion:
    current = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.status == "champion")
        .execution_options(populate_existing=True)
    ).first()
    if current is not None and current.model_version == row.model_version:
        return Promotion(champion=row.model_version, previous=None, changed=False)
    previous = current.model_version if current is not None else None
    if current is not None:
        current.status = "retired"
        session.flush()  # at most one champion (a unique index): retire before promoting
        _audit(
            session,
            previous,
            "champion",
            "retired",
            f"replaced by {row.model_version}: {reason}",
            actor,
        )
    from_status = row.status
    row.status = "champion"
    session.flush()
    _audit(session, row.model_version, from_status, "champion", reason, actor)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(REGISTRY_CHANNEL, row.model_version)))
    return Promotion(champion=row.model_version, previous=previous, changed=True)


def _audit(
    session: Session, version: str, from_status: str | None, to_status: str, reason: str, actor: str
) -> None:
    session.add(
        ModelVersionEvent(
            model_version=version,
            from_status=from_status,
            to_status=to_status,
            reason=reason[:500],
            actor=actor[:64],
        )
    )


def lock_registry(session: Session) -> None:
    """Serialise registry changes (two promotions at once cannot both retire the same champion)."""
    _lock_stage(session, "model_registry")


class RegistryListener:
    """Wakes a worker as soon as the champion changes: PostgreSQL LISTEN on REGISTRY_CHANNEL.

    On other databases (SQLite) `wait` just sleeps: the caller polls `champion_version` after
    every wait, which is also the safety net if a notification is missed.

    It takes the `Database`, not a session: LISTEN needs a connection of its own, in autocommit
    and held for the worker's life, outside the pool and any transaction.
    """

    def __init__(self, database: Database) -> None:
        self._url = database.url
        self._connection: Any = None
        self._listens = database.backend == "postgresql"

    def wait(self, timeout_s: float, stop: threading.Event) -> None:
        """Return on a notification, after `timeout_s` seconds, or soon after `stop` is set."""
        if not self._listens:
            stop.wait(timeout_s)
            return
        deadline = time.monotonic() + timeout_s
        try:
            if self._connection is None:
                self._connection = self._connect()
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                slice_s = min(left, LISTEN_SLICE_S)
                if any(True for _ in self._connection.notifies(timeout=slice_s, stop_after=1)):
                    return
        except Exception:  # the server went away: poll until it is back
            self.close()
            stop.wait(max(deadline - time.monotonic(), 0.0))

    def _connect(self) -> Any:
        import psycopg

        conninfo = (
            make_url(self._url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
        connection.execute(_LISTEN_STATEMENT)
        return connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


# --- predictions ----------------------------------------------------------------------------


def record_predictions(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert served forecasts (the API batches them off the request path, one transaction per
    batch)."""
    if not rows:
        return 0
    session.execute(insert(Prediction), list(rows))
    return len(rows)


# --- monitoring -----------------------------------------------------------------------------
# Frames in the monitoring library's shapes (stock_lstm.monitoring), which this layer may not
# import: the column names below are those of its FORECAST_COLUMNS, SCORED_COLUMNS and
# DRIFT_COLUMNS, and tests/data_pipeline/test_monitoring_crud.py checks that they agree.

SHADOW_FORECAST_COLUMNS = [
    "forecast_id",
    "source",
    "ticker",
    "origin_date",
    "model_version",
    "step",
    "close",
    "lower",
    "upper",
]
_SCORES = table_columns(RealizedScore)
_DRIFT = table_columns(DriftResult)
_FORECAST_KEY = ("forecast_id", "source", "ticker", "model_version", "origin_date", "step")
REALIZED_SCORE_COLUMNS = [*_FORECAST_KEY, *_SCORES.without(*_FORECAST_KEY, "run_id")]
DRIFT_RESULT_COLUMNS = list(_DRIFT.without("run_id"))
_KEY_CHUNK = 500  # ids per IN (...) when looking up what is stored already


@dataclass(frozen=True)
class MonitoringRunInfo:
    id: int
    created_at: datetime
    as_of: date
    model_version: str
    data_version_id: int | None
    parameters: dict[str, Any]
    forecast_counts: dict[str, int]

    @classmethod
    def of(cls, row: MonitoringRun) -> MonitoringRunInfo:
        return _from_row(cls, row)


@dataclass(frozen=True)
class MonitoringSave:
    run: MonitoringRunInfo
    shadow_added: int  # shadow forecasts not stored before (a rerun of a day adds none)
    scores_added: int  # scored steps not stored before
    drift_rows: int
    decisions: int


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FrameSchemaError(f"the {name} frame lacks column(s) {', '.join(missing)}")


def _day(value: Any) -> date:
    return pd.Timestamp(value).date()


def _float_or_none(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _stored(session: Session, key_columns: Sequence[Any], id_column: Any, ids: list[str]) -> set:
    found: set = set()
    for start in range(0, len(ids), _KEY_CHUNK):
        chunk = ids[start : start + _KEY_CHUNK]
        found.update(
            tuple(r) for r in session.execute(select(*key_columns).where(id_column.in_(chunk)))
        )
    return found


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), INSERT_CHUNK_ROWS):
        session.execute(insert(model), rows[start : start + INSERT_CHUNK_ROWS])


def _not_stored(frame: pd.DataFrame, keys: list[str], stored: set) -> pd.DataFrame:
    """The rows of `frame` whose key is not in `stored`, the first of any repeated key."""
    index = pd.MultiIndex.from_arrays(
        [frame[k].astype("int64") if k == "step" else frame[k].astype(str) for k in keys]
    )
    fresh = ~index.duplicated()
    if stored:
        fresh &= ~index.isin(list(stored))
    return frame[fresh]


def _shadow_rows(shadow: pd.DataFrame, run_id: int, stored: set) -> list[dict[str, Any]]:
    stored_ids = {key[0] for key in stored}
    new = shadow[~shadow["forecast_id"].astype(str).isin(stored_ids)]
    rows = []
    for forecast_id, steps in new.sort_values("step").groupby("forecast_id", sort=True):
        first = steps.iloc[0]
        rows.append(
            {
                "model_version": str(first["model_version"]),
                "ticker": str(first["ticker"]),
                "origin_date": _day(first["origin_date"]),
                "forecast_id": str(forecast_id),
                "run_id": run_id,
                "values": [
                    {"step": int(s), "close": float(c), "lower": float(lo), "upper": float(up)}
                    for s, c, lo, up in zip(
                        steps["step"], steps["close"], steps["lower"], steps["upper"], strict=True
                    )
                ],
            }
        )
    return rows


def _score_rows(scores: pd.DataFrame, run_id: int, stored: set) -> list[dict[str, Any]]:
    new = _not_stored(scores, ["source", "forecast_id", "step"], stored)
    if new.empty:
        return []
    rows = _typed_columns(new.loc[:, REALIZED_SCORE_COLUMNS], _SCORES).assign(run_id=run_id)
    for name in _SCORES.of_kind("date"):
        rows[name] = rows[name].dt.date
    return rows.to_dict("records")  # native Python scalars (pandas boxes them)


def _typed_columns(frame: pd.DataFrame, table: TableColumns) -> pd.DataFrame:
    """`frame` (columns of `table`) with each column as its kind."""
    return frame.assign(
        **{c: as_kind(frame[c], table.kinds[c], c in table.nullable) for c in frame.columns}
    )


def save_monitoring_run(
    session: Session,
    *,
    as_of: date,
    model_version: str,
    shadow: pd.DataFrame,
    scores: pd.DataFrame,
    drift: pd.DataFrame,
    decisions: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any],
    forecast_counts: Mapping[str, int],
    data_version_id: int | None = None,
) -> MonitoringSave:
    """One monitoring run, whole in the caller's transaction: its row, the shadow forecasts and scored steps
    not stored yet (so rerunning a day or rescoring old forecasts adds nothing), the drift
    figures and the decisions. Lands whole or not at all."""
    _require(shadow, SHADOW_FORECAST_COLUMNS, "shadow forecasts")
    _require(scores, REALIZED_SCORE_COLUMNS, "realized scores")
    _require(drift, DRIFT_RESULT_COLUMNS, "drift")
    run = MonitoringRun(
        as_of=as_of,
        model_version=model_version,
        data_version_id=data_version_id,
        parameters=dict(parameters),
        forecast_counts={k: int(v) for k, v in forecast_counts.items()},
    )
    session.add(run)
    session.flush()
    shadow_ids = sorted(shadow["forecast_id"].astype(str).unique())
    shadow_rows = _shadow_rows(
        shadow,
        run.id,
        _stored(session, [ShadowForecast.forecast_id], ShadowForecast.forecast_id, shadow_ids),
    )
    _insert(session, ShadowForecast, shadow_rows)
    score_ids = sorted(scores["forecast_id"].astype(str).unique())
    stored_scores = _stored(
        session,
        [RealizedScore.source, RealizedScore.forecast_id, RealizedScore.step],
        RealizedScore.forecast_id,
        score_ids,
    )
    score_rows = _score_rows(scores, run.id, stored_scores)
    _insert(session, RealizedScore, score_rows)
    drift_rows = [
        {
            "run_id": run.id,
            "ticker": str(r["ticker"]),
            "feature": str(r["feature"]),
            "n_reference": int(r["n_reference"]),
            "n_recent": int(r["n_recent"]),
            "ks": _float_or_none(r["ks"]),
            "ks_pvalue": _float_or_none(r["ks_pvalue"]),
            "psi": _float_or_none(r["psi"]),
            "flag": bool(r["flag"]),
        }
        for r in drift.to_dict("records")
    ]
    _insert(session, DriftResult, drift_rows)
    for decision in decisions:
        session.add(_decision_row(decision, run.id))
    session.flush()
    return MonitoringSave(
        run=MonitoringRunInfo.of(run),
        shadow_added=len(shadow_rows),
        scores_added=len(score_rows),
        drift_rows=len(drift_rows),
        decisions=len(decisions),
    )


def _decision_row(decision: Mapping[str, Any], run_id: int | None) -> MonitoringDecision:
    reasons = [str(r) for r in decision.get("reasons") or []]
    if not reasons:
        raise ValueError(f"a {decision.get('kind')} decision must give at least one reason")
    return MonitoringDecision(
        run_id=run_id,
        kind=str(decision["kind"]),
        as_of=_day(decision["as_of"]),
        model_version=decision.get("model_version"),
        retrain=decision.get("retrain"),
        promoted=decision.get("promoted"),
        reasons=reasons,
    )


def record_decision(session: Session, decision: Mapping[str, Any]) -> None:
    """A decision taken outside a monitoring run (e.g. the registry's promotion)."""
    session.add(_decision_row(decision, None))


def recent_decisions(
    session: Session, limit: int = 20, run_id: int | None = None
) -> list[dict[str, Any]]:
    """The newest decisions first (those of monitoring run `run_id` when given): kind, as_of,
    model_version, retrain, promoted, reasons."""
    query = select(MonitoringDecision).order_by(MonitoringDecision.id.desc()).limit(limit)
    if run_id is not None:
        query = query.where(MonitoringDecision.run_id == run_id)
    rows = session.scalars(query)
    return [
        {
            "kind": r.kind,
            "as_of": r.as_of,
            "model_version": r.model_version,
            "retrain": r.retrain,
            "promoted": r.promoted,
            "reasons": list(r.reasons),
        }
        for r in rows
    ]


def latest_monitoring_run(
    session: Session, model_version: str | None = None
) -> MonitoringRunInfo | None:
    """The newest run (of `model_version` when given)."""
    query = select(MonitoringRun).order_by(MonitoringRun.id.desc()).limit(1)
    if model_version is not None:
        query = query.where(MonitoringRun.model_version == model_version)
    row = session.scalars(query).first()
    return MonitoringRunInfo.of(row) if row is not None else None


def load_drift_results(session: Session, run_id: int) -> pd.DataFrame:
    """One run's drift rows (DRIFT_RESULT_COLUMNS; NULL figures come back as NaN)."""
    rows = session.scalars(
        select(DriftResult)
        .where(DriftResult.run_id == run_id)
        .order_by(DriftResult.ticker, DriftResult.feature)
    ).all()
    frame = pd.DataFrame(
        [{c: getattr(r, c) for c in DRIFT_RESULT_COLUMNS} for r in rows],
        columns=DRIFT_RESULT_COLUMNS,
    )
    return _typed_columns(frame, _DRIFT)


def load_shadow_forecasts(session: Session, model_version: str | None = None) -> pd.DataFrame:
    """Stored shadow forecasts as forecast rows (SHADOW_FORECAST_COLUMNS), oldest first."""
    query = select(ShadowForecast).order_by(
        ShadowForecast.origin_date, ShadowForecast.ticker, ShadowForecast.model_version
    )
    if model_version is not None:
        query = query.where(ShadowForecast.model_version == model_version)
    records = [
        {
            "forecast_id": r.forecast_id,
            "source": "shadow",
            "ticker": r.ticker,
            "origin_date": r.origin_date,
            "model_version": r.model_version,
            **value,
        }
        for r in session.scalars(query)
        for value in r.values
    ]
    frame = pd.DataFrame(records, columns=SHADOW_FORECAST_COLUMNS)
    frame["origin_date"] = as_kind(frame["origin_date"], "date")
    frame["step"] = as_kind(frame["step"], "int", nullable=False)
    return frame


def load_realized_scores(session: Session, model_version: str | None = None) -> pd.DataFrame:
    """Stored scored steps (REALIZED_SCORE_COLUMNS), by source, ticker, origin and step."""
    query = select(RealizedScore).order_by(
        RealizedScore.source,
        RealizedScore.ticker,
        RealizedScore.origin_date,
        RealizedScore.forecast_id,
        RealizedScore.step,
    )
    if model_version is not None:
        query = query.where(RealizedScore.model_version == model_version)
    frame = pd.DataFrame(
        [{c: getattr(r, c) for c in REALIZED_SCORE_COLUMNS} for r in session.scalars(query)],
        columns=REALIZED_SCORE_COLUMNS,
    )
    return _typed_columns(frame, _SCORES)


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


def ping(
    session: Session,
) -> None:
    """Raise when the database does not answer."""
    session.execute(select(1))
