"""Generic validation and cleaning of daily price bars (not specific to any model).

Two repairs put a source's bars in order without touching a value: `repair_order` sorts them
and keeps one row per (ticker, date). Ingestion applies them, because the raw_prices table is
keyed by (version, ticker, date) and returns rows sorted; its ingestion report counts them.
`clean_prices` then takes raw prices as that table gives them (one row per day, refused
otherwise) and drops the rows that break a rule; no price is ever changed. Rules run in the
order of `ROW_RULES` and a row is counted under the first rule it breaks. Gaps between trading
days longer than a threshold are only warned about: they are real (market closures) as often as
they are holes.

The result is validated against `clean_prices_schema` (pandera), whose checks are built from the
same rule functions, so what cleaning drops and what the schema refuses cannot drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrors

from stock_lstm.common.errors import InputError
from stock_lstm.data_pipeline import schema

logger = logging.getLogger(__name__)

KEY = list(schema.KEY)
OHLC = ["open", "high", "low", "close"]  # a bar without one of these is dropped (but see below)
RANGE = ["open", "high", "low"]  # all missing together: a close-only bar, kept
PRICES = list(schema.stage_frame("raw").of_kind("float"))  # OHLC and adj_close, often missing
DEFAULT_PRICE_TOLERANCE = 1e-6


class CleaningError(InputError):
    """The data cannot be cleaned into something usable; the message names the ticker or column."""


@dataclass(frozen=True)
class CleaningParams:
    """Thresholds (conf/base/parameters_cleaning.yml)."""

    max_gap_days: int = 5
    min_rows_per_ticker: int = 250
    price_tolerance: float = DEFAULT_PRICE_TOLERANCE

    def __post_init__(self) -> None:
        for name in ("max_gap_days", "min_rows_per_ticker"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CleaningError(f"cleaning.{name} must be a whole number >= 1, got {value!r}")
        tolerance = self.price_tolerance
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
            raise CleaningError(f"cleaning.price_tolerance must be >= 0, got {tolerance!r}")


# --- row rules: each returns the mask of rows that BREAK it -------------------------------------


def close_only(frame: pd.DataFrame) -> pd.Series:
    """Bars with a close but none of open, high, low: what a close-only source publishes."""
    return frame[RANGE].isna().all(axis=1) & frame["close"].notna()


def _missing_price(frame: pd.DataFrame, _tolerance: float) -> pd.Series:
    """No close, or only some of open/high/low (a close-only bar lacks all three: kept)."""
    return frame[OHLC].isna().any(axis=1) & ~close_only(frame)


def _non_finite_price(frame: pd.DataFrame, _tolerance: float) -> pd.Series:
    return pd.Series(np.isinf(frame[PRICES].to_numpy(dtype="float64")).any(axis=1), frame.index)


def _non_positive_price(frame: pd.DataFrame, _tolerance: float) -> pd.Series:
    return (frame[PRICES] <= 0).any(axis=1)


def _inconsistent_high_low(frame: pd.DataFrame, tolerance: float) -> pd.Series:
    """High below open/close/low, or low above open/close (relative float tolerance); a
    close-only bar has no range to check (NaN compares False)."""
    top = frame[["open", "close", "low"]].max(axis=1)
    bottom = frame[["open", "close", "high"]].min(axis=1)
    broken = (frame["high"] < top * (1 - tolerance)) | (frame["low"] > bottom * (1 + tolerance))
    return broken & ~close_only(frame)


def _negative_volume(frame: pd.DataFrame, _tolerance: float) -> pd.Series:
    return (frame["volume"] < 0).fillna(False).astype(bool)


RowRule = Callable[[pd.DataFrame, float], pd.Series]
ROW_RULES: dict[str, RowRule] = {
    "missing_price": _missing_price,
    "non_finite_price": _non_finite_price,
    "non_positive_price": _non_positive_price,
    "inconsistent_high_low": _inconsistent_high_low,
    "negative_volume": _negative_volume,
}
# The rules that need open, high or low: a close-only bar skips them (the report says so).
NEEDS_RANGE = ("inconsistent_high_low",)


# --- schemas -----------------------------------------------------------------------------------


def _columns(
    stage: str, nullable: Collection[str], coerce: Collection[str]
) -> dict[str, pa.Column]:
    """The stage's frame columns with their dtypes (schema.py): `nullable` ones may be
    missing, `coerce` ones are converted to their dtype first."""
    dtypes = schema.stage_frame(stage).dtypes()
    return {
        name: pa.Column(dtype, nullable=name in nullable, coerce=name in coerce)
        for name, dtype in dtypes.items()
    }


def raw_prices_schema() -> pa.DataFrameSchema:
    """What cleaning accepts: the canonical columns, coercible to their types."""
    return pa.DataFrameSchema(
        _columns("raw", schema.stage_frame("raw").nullable, coerce=schema.stage_columns("raw")),
        strict="filter",
        name="raw_prices",
    )


def clean_prices_schema(price_tolerance: float = DEFAULT_PRICE_TOLERANCE) -> pa.DataFrameSchema:
    """What cleaning guarantees: typed, unique sorted (ticker, date), every row rule holds."""
    checks = [
        pa.Check(
            lambda frame, rule=rule: ~rule(frame, price_tolerance),
            name=name,
            error=f"rows break the cleaning rule {name}",
        )
        for name, rule in ROW_RULES.items()
    ]
    checks.append(
        pa.Check(
            lambda frame: ~_out_of_order(frame),
            name="sorted_dates",
            error="dates not increasing within a ticker",
        )
    )
    return pa.DataFrameSchema(
        _columns("clean", schema.stage_frame("clean").nullable - {"close"}, coerce=PRICES),
        checks=checks,
        unique=KEY,
        strict=True,
        name="clean_prices",
    )


# --- repairs -----------------------------------------------------------------------------------


def _out_of_order(frame: pd.DataFrame) -> pd.Series:
    """Rows whose date is not after the previous row's date of the same ticker."""
    return (frame["date"] <= _previous_date(frame)).fillna(False).astype(bool)


def _previous_date(frame: pd.DataFrame) -> pd.Series:
    """Each row's previous row date within its ticker, in frame order (NaT for the first)."""
    return frame.groupby("ticker", sort=False)["date"].shift()


def _per_ticker(frame: pd.DataFrame, mask: pd.Series) -> dict[str, int]:
    counts = frame.loc[mask, "ticker"].value_counts()
    return {str(ticker): int(n) for ticker, n in sorted(counts.items())}


def drop_duplicate_dates(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Keep the LAST row of each (ticker, date), the source's latest word; count the others.

    The one dedupe of the project (through `repair_order`, at ingestion).
    """
    duplicated = frame.duplicated(KEY, keep="last")
    return frame[~duplicated].reset_index(drop=True), _per_ticker(frame, duplicated)


def sort_dates(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Sort by (ticker, date), stably; count the rows that were out of order per ticker."""
    # a repeated day is counted as a duplicate, not as out of order
    unsorted = (frame["date"] < _previous_date(frame)).fillna(False).astype(bool)
    unsorted &= ~frame.duplicated(KEY, keep="first")
    ordered = frame.sort_values(KEY, kind="stable").reset_index(drop=True)
    return ordered, _per_ticker(frame, unsorted)


def repair_order(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """A source's bars sorted by (ticker, date), one row per day (the last given); per ticker,
    how many rows were out of order and how many repeated dates were dropped."""
    ordered, unsorted = sort_dates(frame)
    unique, duplicates = drop_duplicate_dates(ordered)
    return unique, {"out_of_order_rows_sorted": unsorted, "duplicate_dates_dropped": duplicates}


def _refuse_repeated_dates(frame: pd.DataFrame) -> None:
    repeated = frame.duplicated(KEY, keep=False)
    if repeated.any():
        first = frame[repeated].iloc[0]
        raise CleaningError(
            f"raw prices repeat a date: {first['ticker']} {first['date']:%Y-%m-%d} "
            f"({int(repeated.sum())} rows share a (ticker, date)); the raw_prices table holds one "
            "row per day: repair a source's frame with repair_order first"
        )


def find_gaps(frame: pd.DataFrame, max_gap_days: int) -> dict[str, list[dict[str, Any]]]:
    """Per ticker, consecutive dates more than `max_gap_days` calendar days apart (sorted frame)."""
    previous = _previous_date(frame)
    days = (frame["date"] - previous).dt.days
    long = days > max_gap_days
    gaps: dict[str, list[dict[str, Any]]] = {}
    for index in frame.index[long.fillna(False).astype(bool)]:
        gaps.setdefault(str(frame.at[index, "ticker"]), []).append(
            {
                "after": previous[index].strftime("%Y-%m-%d"),
                "before": frame.at[index, "date"].strftime("%Y-%m-%d"),
                "days": int(days[index]),
            }
        )
    return gaps


# --- the whole cleaning --------------------------------------------------------------------------


def _coerce(frame: pd.DataFrame) -> pd.DataFrame:
    try:
        return raw_prices_schema().validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        first = cases.iloc[0]
        problems = sorted(
            {f"{c}: {k}" for c, k in zip(cases["column"], cases["check"], strict=True)}
        )
        raise CleaningError(
            f"raw prices do not fit the schema ({'; '.join(problems)[:300]}); first bad value "
            f"{first['failure_case']!r} at row {first['index']}"
        ) from None


def clean_prices(
    frame: pd.DataFrame, params: CleaningParams | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The clean bars and a report: rows in, rows dropped per rule per ticker, rows out, gaps.

    `frame` holds one row per (ticker, date), as raw_prices does; its order does not matter.
    An empty frame (no raw ticker changed since the last cleaning) gives an empty result.
    """
    params = params or CleaningParams()
    typed = _coerce(frame)
    _refuse_repeated_dates(typed)
    rows_in = _per_ticker(typed, pd.Series(True, typed.index))

    current = typed.sort_values(KEY, kind="stable").reset_index(drop=True)
    dropped: dict[str, dict[str, int]] = {}
    for name, rule in ROW_RULES.items():
        broken = rule(current, params.price_tolerance)
        dropped[name] = _per_ticker(current, broken)
        current = current[~broken].reset_index(drop=True)

    gaps = find_gaps(current, params.max_gap_days)
    for ticker, found in gaps.items():
        longest = max(found, key=lambda gap: gap["days"])
        logger.warning(
            "%s: %d gap(s) longer than %d days between trading days (longest %d days, %s to %s)",
            ticker,
            len(found),
            params.max_gap_days,
            longest["days"],
            longest["after"],
            longest["before"],
        )

    rows_out = _per_ticker(current, pd.Series(True, current.index))
    close_only_bars = _per_ticker(current, close_only(current))
    if close_only_bars:
        logger.info(
            "close-only bars (no open/high/low; rule(s) %s skipped for them): %s",
            ", ".join(NEEDS_RANGE),
            ", ".join(f"{t}={n}" for t, n in close_only_bars.items()),
        )
    report = {
        "rows_in": len(typed),
        "rows_out": len(current),
        "dropped": dropped,
        "close_only_bars": close_only_bars,
        "rules_skipped_for_close_only": list(NEEDS_RANGE) if close_only_bars else [],
        "gaps": gaps,
        "tickers": {
            ticker: {"rows_in": n, "rows_out": rows_out.get(ticker, 0)}
            for ticker, n in rows_in.items()
        },
        "parameters": {
            "max_gap_days": params.max_gap_days,
            "min_rows_per_ticker": params.min_rows_per_ticker,
            "price_tolerance": params.price_tolerance,
        },
    }
    too_few = {t: c["rows_out"] for t, c in report["tickers"].items()}
    too_few = {t: n for t, n in too_few.items() if n < params.min_rows_per_ticker}
    if too_few:
        named = ", ".join(
            f"{t} ({n} of {rows_in[t]} rows left)" for t, n in sorted(too_few.items())
        )
        raise CleaningError(
            f"too few clean rows to train on for {named}: fewer than "
            f"cleaning.min_rows_per_ticker={params.min_rows_per_ticker}. Ingest a longer period "
            "(ingestion.start), drop the ticker, or lower the threshold. Dropped per rule: "
            + (
                ", ".join(
                    f"{rule}={sum(n for t, n in by.items() if t in too_few)}"
                    for rule, by in dropped.items()
                    if any(t in too_few for t in by)
                )
                or "none (the source has too few rows)"
            )
        )
    try:
        clean = clean_prices_schema(params.price_tolerance).validate(current)
    except SchemaError as error:  # a bug in the rules above, not in the data
        raise CleaningError(f"cleaned prices still break the schema: {error}") from error
    clean.attrs = {}
    return clean, report
