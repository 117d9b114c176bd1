"""Model windows: origins whose inputs and targets fit a split, the histories they start from,
their cumulative-log-return targets, and the scaled, pooled window set a network trains on.

Inputs may reach back before the split's start (that is the past); targets never leave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stock_lstm.ml_models.common.scaling import scale_inputs, target_divisors
from stock_lstm.ml_models.common.series import PreprocessError, log_returns, ticker_series
from stock_lstm.ml_models.common.splits import SplitSpec, split_dates

if TYPE_CHECKING:
    from sklearn.preprocessing import StandardScaler


def window_origins(start: int, end: int, window: int, horizon: int) -> np.ndarray:
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
    fractions: SplitSpec,
    split: str,
    window: int,
    max_horizon: int,
) -> WindowSet:
    """Every full window of `split`, pooled over tickers, scaled with the training scaler.

    Inputs may reach back before the split's start (that is the past); targets never leave it.
    """
    xs, ys, names = [], [], []
    divisors = target_divisors(scaler, max_horizon)
    cutoffs = split_dates(features, fractions)
    for ticker, series in ticker_series(features).items():
        closes = series.closes
        start, end = cutoffs.bounds(series.dates).rows(split)
        origins = window_origins(start, end, window, max_horizon)
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
