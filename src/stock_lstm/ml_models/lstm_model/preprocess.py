"""From closes to the model's arrays: log returns, the chronological split, scaling and windows.

Everything the model sees is computable from a close-price history alone (log returns), so the
API can forecast from a history a user sends, for any ticker. Index conventions, per ticker:
``closes[i]`` is row i; ``returns[i] = log(closes[i] / closes[i-1])`` (NaN for i = 0). A window
with *origin* t (the last close known) holds ``returns[t-window+1 .. t]`` (it needs closes
``t-window .. t``: ``window + 1`` values) and its targets are the cumulative log returns
``log(closes[t+k] / closes[t])`` for k = 1..max_horizon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from stock_lstm.common.errors import InputError

FEATURE_COLUMNS = ("ticker", "date", "close", "log_return")
SPLITS = ("train", "validation", "test")
MIN_VOLATILITY = 1e-4  # a floor for the interval scale: a flat history must not give zero width


class PreprocessError(InputError):
    """Input that cannot become model input; the message names the ticker, row and field."""


# --- features --------------------------------------------------------------------------------


def add_log_returns(prices: pd.DataFrame, price_column: str = "close") -> pd.DataFrame:
    """The features frame: ticker, date, close and the log return since the previous row.

    The first row of each ticker has no previous close, so its log return is NaN.
    """
    missing = [c for c in ("ticker", "date", price_column) if c not in prices.columns]
    if missing:
        raise PreprocessError(f"the price frame lacks column(s) {', '.join(missing)}")
    frame = pd.DataFrame(
        {
            "ticker": prices["ticker"].astype(str),
            "date": pd.to_datetime(prices["date"]).astype("datetime64[ns]"),
            "close": pd.to_numeric(prices[price_column]).astype("float64"),
        }
    )
    frame = frame.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    bad = ~np.isfinite(frame["close"].to_numpy()) | (frame["close"].to_numpy() <= 0)
    if bad.any():
        row = frame[bad].iloc[0]
        raise PreprocessError(
            f"{int(bad.sum())} row(s) have a missing or non-positive {price_column!r}, "
            f"first: ticker {row['ticker']!r}, date {row['date']:%Y-%m-%d}, value {row['close']}"
        )
    duplicated = frame.duplicated(["ticker", "date"])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise PreprocessError(
            f"ticker {row['ticker']!r} has more than one row on {row['date']:%Y-%m-%d}"
        )
    log_close = np.log(frame["close"])
    frame["log_return"] = log_close.groupby(frame["ticker"]).diff()
    return frame


def log_returns(closes: np.ndarray) -> np.ndarray:
    """log(c[i] / c[i-1]) along the last axis: one value fewer than `closes`."""
    return np.diff(np.log(closes), axis=-1)


def recent_volatility(returns: np.ndarray, vol_window: int) -> np.ndarray:
    """Std of the last `vol_window` log returns of each history (last axis), floored.

    Scales the prediction intervals to the history's own recent volatility, so one calibration
    serves calm and turbulent periods and tickers alike (normalised split conformal).
    """
    tail = returns[..., -vol_window:]
    return np.maximum(tail.std(axis=-1), MIN_VOLATILITY)


# --- chronological split ---------------------------------------------------------------------


@dataclass(frozen=True)
class SplitBounds:
    """Row ranges of one ticker: train [0, train_end), validation [train_end, validation_end),
    test [validation_end, n_rows)."""

    n_rows: int
    train_end: int
    validation_end: int

    def rows(self, split: str) -> tuple[int, int]:
        return {
            "train": (0, self.train_end),
            "validation": (self.train_end, self.validation_end),
            "test": (self.validation_end, self.n_rows),
        }[split]


def split_bounds(n_rows: int, fractions: Mapping[str, float]) -> SplitBounds:
    """Chronological train/validation/test boundaries for `n_rows` rows of one ticker."""
    shares = [float(fractions[name]) for name in SPLITS]
    if any(s <= 0 for s in shares) or not np.isclose(sum(shares), 1.0):
        raise PreprocessError(
            f"split fractions must be positive and sum to 1, got {dict(zip(SPLITS, shares, strict=True))}"
        )
    train_end = int(round(n_rows * shares[0]))
    validation_end = int(round(n_rows * (shares[0] + shares[1])))
    return SplitBounds(n_rows=n_rows, train_end=train_end, validation_end=validation_end)


def ticker_closes(features: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each ticker's closes, oldest first."""
    missing = [c for c in ("ticker", "date", "close") if c not in features.columns]
    if missing:
        raise PreprocessError(f"the features frame lacks column(s) {', '.join(missing)}")
    ordered = features.sort_values(["ticker", "date"], kind="stable")
    return {
        str(ticker): group["close"].to_numpy(dtype="float64")
        for ticker, group in ordered.groupby("ticker", sort=True)
    }


def assign_splits(features: pd.DataFrame, fractions: Mapping[str, float]) -> pd.DataFrame:
    """The features frame sorted by (ticker, date) with a `split` column, per ticker."""
    ordered = features.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    labels = np.empty(len(ordered), dtype=object)
    for _, index in ordered.groupby("ticker", sort=False).indices.items():
        bounds = split_bounds(len(index), fractions)
        for split in SPLITS:
            start, end = bounds.rows(split)
            labels[index[start:end]] = split
    ordered["split"] = labels
    return ordered


# --- scaling ---------------------------------------------------------------------------------


def fit_scaler(features: pd.DataFrame, fractions: Mapping[str, float]) -> StandardScaler:
    """A StandardScaler of log returns fitted on the TRAINING rows of every ticker only.

    Validation and test rows never touch it: their statistics would leak the future.
    """
    split = assign_splits(features, fractions)
    train = split.loc[split["split"] == "train", "log_return"].to_numpy(dtype="float64")
    train = train[np.isfinite(train)]
    if train.size < 2:
        raise PreprocessError("too few training rows to fit the scaler (need at least 2 returns)")
    return StandardScaler().fit(train.reshape(-1, 1))


def scaler_stats(scaler: StandardScaler) -> tuple[float, float]:
    """(mean, scale) of a fitted one-feature scaler."""
    return float(scaler.mean_[0]), float(scaler.scale_[0])


def scale_inputs(returns: np.ndarray, scaler: StandardScaler) -> np.ndarray:
    """Log returns (..., window) → the model's input (..., window, 1), float32."""
    mean, scale = scaler_stats(scaler)
    return ((returns - mean) / scale)[..., np.newaxis].astype("float32")


def target_divisors(scaler: StandardScaler, max_horizon: int) -> np.ndarray:
    """Per-step divisors of the cumulative-log-return targets: scale * sqrt(k).

    Not centred: an output of zero means "no change", i.e. the naive forecast. Dividing by
    sqrt(k) gives every step a target of about unit spread, so no step dominates the loss.
    """
    _, scale = scaler_stats(scaler)
    return scale * np.sqrt(np.arange(1, max_horizon + 1, dtype="float64"))


# --- windows ---------------------------------------------------------------------------------


def window_origins(n_rows: int, start: int, end: int, window: int, horizon: int) -> np.ndarray:
    """Origins t in rows [start, end) with a full input window and all `horizon` targets in
    [start, end) too: the targets of a split never leave it."""
    first = max(start, window)
    last = end - 1 - horizon
    return np.arange(first, last + 1) if last >= first else np.empty(0, dtype=int)


def histories(closes: np.ndarray, origins: np.ndarray, window: int) -> np.ndarray:
    """The `window + 1` closes ending at each origin: shape (n, window + 1)."""
    if origins.size == 0:
        return np.empty((0, window + 1), dtype="float64")
    index = origins[:, np.newaxis] + np.arange(-window, 1)[np.newaxis, :]
    return closes[index]


def cumulative_targets(closes: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """log(closes[t+k] / closes[t]) for k = 1..horizon: shape (n, horizon)."""
    if origins.size == 0:
        return np.empty((0, horizon), dtype="float64")
    index = origins[:, np.newaxis] + np.arange(1, horizon + 1)[np.newaxis, :]
    return np.log(closes[index]) - np.log(closes[origins])[:, np.newaxis]


@dataclass(frozen=True)
class WindowSet:
    """Scaled model inputs and targets of one split, pooled over tickers."""

    x: np.ndarray  # (n, window, 1) float32
    y: np.ndarray  # (n, max_horizon) float32, cumulative log returns / target_divisors
    tickers: np.ndarray  # (n,) the ticker of each window


def build_windows(
    features: pd.DataFrame,
    scaler: StandardScaler,
    fractions: Mapping[str, float],
    split: str,
    window: int,
    max_horizon: int,
) -> WindowSet:
    """Every full window of `split`, pooled over tickers, scaled with the training scaler."""
    xs, ys, names = [], [], []
    divisors = target_divisors(scaler, max_horizon)
    for ticker, closes in ticker_closes(features).items():
        bounds = split_bounds(len(closes), fractions)
        start, end = bounds.rows(split)
        origins = window_origins(len(closes), start, end, window, max_horizon)
        if origins.size == 0:
            continue
        xs.append(scale_inputs(log_returns(histories(closes, origins, window)), scaler))
        ys.append((cumulative_targets(closes, origins, max_horizon) / divisors).astype("float32"))
        names.append(np.full(origins.size, ticker, dtype=object))
    if not xs:
        raise PreprocessError(
            f"no {split} windows: every ticker's {split} split is shorter than "
            f"window ({window}) + max_horizon ({max_horizon}) + 1 rows"
        )
    return WindowSet(x=np.concatenate(xs), y=np.concatenate(ys), tickers=np.concatenate(names))
