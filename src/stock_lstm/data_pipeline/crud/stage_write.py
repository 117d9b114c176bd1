"""Writing stage tables: a save stores what a frame changes as one version; `remove_ticker`.

Stage tables (raw_prices, clean_prices, features) are versioned by change. A row is valid from
the version that added it (`valid_from`) until the version that replaced or removed it
(`valid_to`, null while it is current), so the table as of version V is the rows with
``valid_from <= V`` and ``valid_to`` null or ``> V``. A save compares each ticker of the frame
with what is stored and writes only the difference: new bars, restated bars (the old row
closed, a new row added) and, in a derived stage, bars no longer given (closed). A source
stage's save (``keep_missing``: raw) never closes a bar it was not given: a narrower window, a
file with a gap or a source that returns fewer rows leaves the stored bars as they are. A
ticker whose rows are unchanged
writes nothing; a save that changes nothing writes no version at all. Tickers the frame does not
mention keep their rows: ticker sets accumulate, and `remove_ticker` is the one way to drop one.

Each version records, per changed ticker, the ticker's new content hash (`ticker_versions`);
the version's `content_hash` combines every ticker's hash as of that version, so a pinned load
can be checked against what was recorded when it was written (`table_hash`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline.crud.base import INSERT_CHUNK_ROWS, _chunks, _lock_stage
from stock_lstm.data_pipeline.crud.stage_hashing import (
    TICKERS_HASH,
    _hash_add,
    _hash_sum,
    _hash_text,
    _hash_value,
    _row_hashes,
    _tickers_digest,
    canonical_frame,
)
from stock_lstm.data_pipeline.crud.stage_versions import (
    SaveResult,
    TickerChange,
    TickerState,
    VersionInfo,
    _latest,
    _stage_table,
    _ticker_states,
    _typed_frame,
)
from stock_lstm.data_pipeline.orm_models import (
    STAGE_MODELS,
    DataVersion,
    TickerVersion,
)
from stock_lstm.data_pipeline.schema import (
    KEY,
    StageError,
    python_values,
    stage_columns,
    stage_frame,
)


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
    keep_missing: bool,
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
        diffed, closed, diff_plans = _diff(
            session, stage, incoming, hashes, to_diff, stored, keep_missing
        )
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
    keep_missing: bool,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, _TickerPlan]]:
    """New, restated and removed rows of the `windows` tickers, compared with what is stored
    (with `keep_missing`, a stored row the frame lacks is kept, not removed)."""
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
    removed = (merged["_merge"] == "left_only").to_numpy() & (not keep_missing)
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
        elif keep_missing:  # nothing closed for good: the range only grows
            given_first, given_last = (d.date() for d in given_range.loc[ticker])
            first = min(state.first_date, given_first)
            last = max(state.last_date, given_last)
            new_state = TickerState(ticker, _hash_text(total), row_count, first, last)
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
    keep_missing: bool = False,
) -> SaveResult:
    """Store what `frame` changes in `stage` as one new version; nothing when it changes nothing.

    Each ticker of the frame is replaced from a date on: ``since[ticker]`` (None = its whole
    history) when given, else the ticker's first date in the frame, so a frame of recent bars
    leaves older ones alone. Rows of the frame before that date are ignored (a lookback).
    A ticker named in ``since`` but absent from the frame loses its rows from that date.
    Tickers neither in the frame nor in ``since`` are untouched.

    ``keep_missing`` (a source stage, raw: what a fetch gives is not the whole truth) keeps
    every stored row the frame lacks, so a save only adds bars and restates the bars it gives.

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
    plan = _plan_save(session, stage, incoming, windows, stored, keep_missing)
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
