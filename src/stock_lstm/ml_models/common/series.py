"""A ticker's series as every model reads it: closes, log returns and their recent volatility.

Everything the model sees is computable from a close-price history alone (log returns), so the
API can forecast from a history a user sends, for any ticker. Index conventions, per ticker:
``closes[i]`` is row i; ``returns[i] = log(closes[i] / closes[i-1])`` (NaN for i = 0). A window
with *origin* t (the last close known) holds ``returns[t-window+1 .. t]`` (it needs closes
``t-window .. t``: ``window + 1`` values) and its targets are the cumulative log returns
``log(closes[t+k] / closes[t])`` for k = 1..max_horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from stock_lstm.common.errors import InputError
from stock_lstm.common.lazy import lazy_module

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: the API's forecasts need only the numpy functions here
    pd = lazy_module("pandas")

MIN_VOLATILITY = 1e-4  # a floor for the interval scale: a flat history must not give zero width


class PreprocessError(InputError):
    """Input that cannot become model input; the message names the ticker, row and field."""


def add_log_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """The features frame: ticker, date, close and the log return since the previous row.

    Always from `close`, never `adj_close`: the API forecasts from the clean closes (or the
    closes a user sends), so the model must be trained on the same series; adjusted closes are
    rescaled back in time at every dividend or split and are missing for some sources. The
    first row of each ticker has no previous close, so its log return is NaN.
    """
    missing = [c for c in ("ticker", "date", "close") if c not in prices.columns]
    if missing:
        raise PreprocessError(f"the price frame lacks column(s) {', '.join(missing)}")
    frame = pd.DataFrame(
        {
            "ticker": prices["ticker"].astype(str),
            "date": pd.to_datetime(prices["date"]).astype("datetime64[ns]"),
            "close": pd.to_numeric(prices["close"]).astype("float64"),
        }
    )
    frame = frame.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    bad = ~np.isfinite(frame["close"].to_numpy()) | (frame["close"].to_numpy() <= 0)
    if bad.any():
        row = frame[bad].iloc[0]
        raise PreprocessError(
            f"{int(bad.sum())} row(s) have a missing or non-positive 'close', "
            f"first: ticker {row['ticker']!r}, date {row['date']:%Y-%m-%d}, value {row['close']}"
        )
    duplicated = frame.duplicated(["ticker", "date"])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise PreprocessError(
            f"ticker {row['ticker']!r} has more than one row on {row['date']:%Y-%m-%d}"
        )
    returns = np.full(len(frame), np.nan)
    for index in frame.groupby("ticker", sort=False).indices.values():
        returns[index[1:]] = log_returns(frame["close"].to_numpy()[index])
    frame["log_return"] = returns
    return frame


def log_returns(closes: np.ndarray) -> np.ndarray:
    """log(c[i] / c[i-1]) along the last axis: one value fewer than `closes`.

    The one home of the log return: the features table, the model's inputs and the API's.
    """
    return np.diff(np.log(closes), axis=-1)


def recent_volatility(returns: np.ndarray, vol_window: int) -> np.ndarray:
    """Std of the last `vol_window` log returns of each history (last axis), floored.

    Scales the prediction intervals to the history's own recent volatility, so one calibration
    serves calm and turbulent periods and tickers alike (normalised split conformal).
    """
    tail = returns[..., -vol_window:]
    return np.maximum(tail.std(axis=-1), MIN_VOLATILITY)


@dataclass(frozen=True)
class TickerSeries:
    """One ticker's dates and closes, oldest first."""

    dates: np.ndarray  # datetime64[ns]
    closes: np.ndarray  # float64


def ticker_series(features: pd.DataFrame) -> dict[str, TickerSeries]:
    """Each ticker's dates and closes, oldest first, tickers sorted."""
    missing = [c for c in ("ticker", "date", "close") if c not in features.columns]
    if missing:
        raise PreprocessError(f"the features frame lacks column(s) {', '.join(missing)}")
    ordered = features.sort_values(["ticker", "date"], kind="stable")
    return {
        str(ticker): TickerSeries(
            dates=group["date"].to_numpy(dtype="datetime64[ns]"),
            closes=group["close"].to_numpy(dtype="float64"),
        )
        for ticker, group in ordered.groupby("ticker", sort=True)
    }


def ticker_dates(features: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each ticker's dates, oldest first (datetime64[ns])."""
    return {t: s.dates for t, s in ticker_series(features).items()}
