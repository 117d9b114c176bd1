"""Shadow forecasts: the champion's forecast from each day's origin for every stored ticker.

Recorded whether or not anybody calls the API, so accuracy is measured out of sample every
day. The rows have the shape of logged forecasts (scoring.FORECAST_COLUMNS, source "shadow"),
so scoring treats them exactly like served ones. The model is only a callable here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.monitoring._frames import as_dates, frame_of, ticker_calendars
from stock_lstm.monitoring.scoring import FORECAST_COLUMNS

# Ticker, its history of closes (oldest first) -> forecast close, lower, upper for steps 1..h.
ForecastFunction = Callable[[str, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
SHADOW = "shadow"


def shadow_forecast_id(ticker: str, origin: pd.Timestamp, model_version: str) -> str:
    """One shadow forecast per model version, ticker and origin: rerunning a day repeats it."""
    return f"{model_version}/{ticker}/{origin:%Y-%m-%d}"


def shadow_forecasts(
    forecast: ForecastFunction,
    prices: pd.DataFrame,
    model_version: str,
    min_history: int,
    origins: Sequence[dt.date] | None = None,
) -> pd.DataFrame:
    """Forecast rows (FORECAST_COLUMNS, source "shadow") for each ticker of `prices` (clean
    closes: ticker, date, close): from its newest close, or, for a replay, from each of
    `origins` that is one of its trading days. An origin with fewer than `min_history` closes
    up to it is skipped: the model cannot forecast from it."""
    if min_history < 1:
        raise InputError(f"min_history must be >= 1, got {min_history}")
    wanted = None if origins is None else as_dates(list(origins)).to_numpy("datetime64[ns]")
    frames = []
    for ticker, calendar in ticker_calendars(prices).items():
        if wanted is None:
            positions = np.array([len(calendar.dates) - 1])
        else:
            positions = np.flatnonzero(np.isin(calendar.dates, wanted))
        for position in positions[positions + 1 >= min_history]:
            origin = pd.Timestamp(calendar.dates[position])
            close, lower, upper = (
                np.asarray(a, dtype="float64")
                for a in forecast(ticker, calendar.closes[: position + 1])
            )
            if not (close.ndim == 1 and close.shape == lower.shape == upper.shape):
                raise InputError(
                    f"the forecast function returned arrays of shapes {close.shape}, "
                    f"{lower.shape}, {upper.shape} for {ticker} at {origin:%Y-%m-%d}: "
                    "expected three equal one-dimensional arrays (steps 1..h)"
                )
            frames.append(
                pd.DataFrame(
                    {
                        "forecast_id": shadow_forecast_id(ticker, origin, model_version),
                        "source": SHADOW,
                        "ticker": ticker,
                        "origin_date": origin,
                        "model_version": model_version,
                        "step": np.arange(1, close.size + 1, dtype="int64"),
                        "close": close,
                        "lower": lower,
                        "upper": upper,
                    }
                )
            )
    return frame_of(frames, FORECAST_COLUMNS)
