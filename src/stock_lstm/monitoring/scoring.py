"""Realized accuracy: logged forecasts scored against the closes that followed.

A forecast is a set of rows, one per step, in the shape of `FORECAST_COLUMNS`; forecasts served
by the API (source "api") and shadow forecasts (source "shadow", shadow.py) share it, so both
are scored by the same code. The step-k target of a forecast made at origin t (the last close
it used) is the k-th trading day after t in that ticker's own calendar; the naive forecast from
the same origin is the origin's close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.common.monitoring_columns import FORECAST_COLUMNS, SCORED_COLUMNS
from stock_lstm.monitoring._frames import as_dates, require_columns, ticker_calendars

# Per forecast, in the order a forecast is classified: the first that applies wins.
NO_TICKER = "no_ticker"  # from a sent price history: nothing to compare with, ever
UNKNOWN_TICKER = "unknown_ticker"  # the ticker has no clean closes (any more)
UNKNOWN_ORIGIN = "unknown_origin"  # the origin date is not one of the ticker's trading days
PENDING = "pending"  # no target date has a close yet
PARTIAL = "partial"  # some steps scored, later targets still to come
SCORED = "scored"  # every step scored
STATUSES = (SCORED, PARTIAL, PENDING, NO_TICKER, UNKNOWN_TICKER, UNKNOWN_ORIGIN)


@dataclass(frozen=True)
class ScoredForecasts:
    """`steps`: one row per scored step (SCORED_COLUMNS). `forecasts`: one row per forecast
    (source, forecast_id, ticker, model_version, origin_date, n_steps, n_scored, status)."""

    steps: pd.DataFrame
    forecasts: pd.DataFrame

    def status_counts(self) -> dict[str, int]:
        """How many forecasts have each status (every status listed, zeros included)."""
        counts = self.forecasts["status"].value_counts()
        return {status: int(counts.get(status, 0)) for status in STATUSES}


def forecast_steps_from_log(log: pd.DataFrame, source: str = "api") -> pd.DataFrame:
    """The predictions log (one row per forecast: id, ticker, origin_date, model_version and
    `values`, a list of {step, close, lower, upper, ...}) as forecast rows (FORECAST_COLUMNS)."""
    require_columns(log, ("id", "ticker", "origin_date", "model_version", "values"), "log")
    rows = [
        {
            "forecast_id": str(entry["id"]),
            "source": source,
            "ticker": entry["ticker"],
            "origin_date": entry["origin_date"],
            "model_version": entry["model_version"],
            "step": value["step"],
            "close": value["close"],
            "lower": value["lower"],
            "upper": value["upper"],
        }
        for entry in log.to_dict("records")
        for value in entry["values"]
    ]
    return _forecast_frame(pd.DataFrame(rows, columns=list(FORECAST_COLUMNS)))


def combine_forecasts(stored: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """The stored forecast rows plus the forecasts of `new` not stored yet (by source and
    forecast_id): rerunning a day, which makes the same shadow forecasts again, adds none."""
    require_columns(stored, FORECAST_COLUMNS, "stored forecasts")
    require_columns(new, FORECAST_COLUMNS, "new forecasts")
    known = pd.MultiIndex.from_frame(stored[["source", "forecast_id"]].astype(str))
    keys = pd.MultiIndex.from_frame(new[["source", "forecast_id"]].astype(str))
    parts = [f.loc[:, list(FORECAST_COLUMNS)] for f in (stored, new[~keys.isin(known)]) if len(f)]
    if not parts:
        return stored.loc[:, list(FORECAST_COLUMNS)]
    return pd.concat(parts, ignore_index=True)


def _forecast_frame(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Checked and typed forecast rows; missing tickers become None."""
    require_columns(forecasts, FORECAST_COLUMNS, "forecasts")
    frame = forecasts.loc[:, list(FORECAST_COLUMNS)].reset_index(drop=True)
    frame["ticker"] = frame["ticker"].astype(object).where(frame["ticker"].notna(), None)
    frame["forecast_id"] = frame["forecast_id"].astype(str)
    frame["source"] = frame["source"].astype(str)
    frame["model_version"] = frame["model_version"].astype(str)
    frame["origin_date"] = as_dates(frame["origin_date"]).to_numpy()
    for column in ("close", "lower", "upper"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    steps = pd.to_numeric(frame["step"])
    bad = steps.isna() | (steps < 1) | (steps != steps.round())
    if bad.any():
        row = frame[bad].iloc[0]
        raise InputError(
            f"forecasts: step {row['step']!r} of forecast {row['source']}/{row['forecast_id']} "
            "is not an integer >= 1"
        )
    frame["step"] = steps.astype("int64")
    shared = ["ticker", "origin_date", "model_version"]
    mixed = frame.groupby(["source", "forecast_id"])[shared].nunique(dropna=False).gt(1)
    if mixed.to_numpy().any():
        (source, forecast_id), row = next(iter(mixed[mixed.any(axis=1)].iterrows()))
        columns = ", ".join(c for c in shared if row[c])
        raise InputError(
            f"forecasts: the steps of forecast {source}/{forecast_id} differ in {columns}"
        )
    repeated = frame.duplicated(["source", "forecast_id", "step"])
    if repeated.any():
        row = frame[repeated].iloc[0]
        raise InputError(
            f"forecasts: forecast {row['source']}/{row['forecast_id']} has step {row['step']} "
            "more than once"
        )
    return frame


def score_forecasts(forecasts: pd.DataFrame, prices: pd.DataFrame) -> ScoredForecasts:
    """Score every step whose target close exists; count the rest by status.

    `forecasts`: FORECAST_COLUMNS rows. `prices`: clean closes (ticker, date, close). A step
    whose target is beyond the newest close is left unscored (pending), not an error: it is
    scored by a later run, once its close has arrived.
    """
    frame = _forecast_frame(forecasts)
    calendars = ticker_calendars(prices)
    n = len(frame)
    row_status = np.full(n, NO_TICKER, dtype=object)
    target_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    origin_close = np.full(n, np.nan)
    actual = np.full(n, np.nan)
    origins = frame["origin_date"].to_numpy(dtype="datetime64[ns]")
    steps = frame["step"].to_numpy()
    for ticker, index in frame.groupby("ticker", sort=False, dropna=True).indices.items():
        calendar = calendars.get(str(ticker))
        if calendar is None:
            row_status[index] = UNKNOWN_TICKER
            continue
        last = len(calendar.dates) - 1
        position = np.searchsorted(calendar.dates, origins[index])
        found = (position <= last) & (calendar.dates[np.minimum(position, last)] == origins[index])
        target = position + steps[index]
        available = found & (target <= last)
        row_status[index] = np.where(found, np.where(available, SCORED, PENDING), UNKNOWN_ORIGIN)
        rows, at = index[available], target[available]
        target_date[rows] = calendar.dates[at]
        origin_close[rows] = calendar.closes[position[available]]
        actual[rows] = calendar.closes[at]
    scored = row_status == SCORED
    steps_frame = pd.DataFrame(
        {
            "forecast_id": frame["forecast_id"].to_numpy()[scored],
            "source": frame["source"].to_numpy()[scored],
            "ticker": frame["ticker"].to_numpy()[scored],
            "model_version": frame["model_version"].to_numpy()[scored],
            "origin_date": origins[scored],
            "step": steps[scored],
            "target_date": target_date[scored],
            "origin_close": origin_close[scored],
            "actual": actual[scored],
            "forecast": frame["close"].to_numpy()[scored],
            "lower": frame["lower"].to_numpy()[scored],
            "upper": frame["upper"].to_numpy()[scored],
        }
    )
    steps_frame["error"] = steps_frame["actual"] - steps_frame["forecast"]
    steps_frame["abs_error"] = steps_frame["error"].abs()
    steps_frame["naive_error"] = steps_frame["actual"] - steps_frame["origin_close"]
    steps_frame["naive_abs_error"] = steps_frame["naive_error"].abs()
    steps_frame["inside"] = (steps_frame["actual"] >= steps_frame["lower"]) & (
        steps_frame["actual"] <= steps_frame["upper"]
    )
    return ScoredForecasts(
        steps=steps_frame.sort_values(["source", "ticker", "origin_date", "forecast_id", "step"])
        .reset_index(drop=True)
        .loc[:, list(SCORED_COLUMNS)],
        forecasts=_forecast_status(frame, row_status),
    )


# Statuses of every row of a forecast alike (its ticker and origin are shared by its steps).
_WHOLE_FORECAST = [NO_TICKER, UNKNOWN_TICKER, UNKNOWN_ORIGIN]


def _forecast_status(frame: pd.DataFrame, row_status: np.ndarray) -> pd.DataFrame:
    rows = frame.assign(row_status=row_status, is_scored=row_status == SCORED)
    grouped = rows.groupby(["source", "forecast_id"], sort=True, dropna=False)
    summary = grouped.agg(
        ticker=("ticker", "first"),
        model_version=("model_version", "first"),
        origin_date=("origin_date", "first"),
        n_steps=("step", "size"),
        n_scored=("is_scored", "sum"),
        row_status=("row_status", "first"),
    ).reset_index()
    summary["n_scored"] = summary["n_scored"].astype("int64")
    summary["status"] = np.where(
        summary["row_status"].isin(_WHOLE_FORECAST),
        summary["row_status"],
        np.where(
            summary["n_scored"] == summary["n_steps"],
            SCORED,
            np.where(summary["n_scored"] == 0, PENDING, PARTIAL),
        ),
    )
    return summary.drop(columns="row_status")
