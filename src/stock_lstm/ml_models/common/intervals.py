"""Split-conformal prediction intervals scaled by recent volatility, for any point forecaster.

Score = |log(actual / forecast)| / sigma, sigma the history's recent volatility; the step-k
interval is forecast * exp(±q_k * sigma) with q_k the conformal quantile of validation scores.
Scaling by sigma lets one calibration serve calm and volatile periods and every ticker. The
LSTM, the GRU and the naive and drift baselines all get their bands this way, so the backtest
compares interval quality on equal terms.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from stock_lstm.common.errors import InputError


@dataclass(frozen=True)
class Bands:
    """Forecast closes and interval bounds, shape (n, horizon): what every model gives."""

    close: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The split-conformal quantile: the ceil((n + 1) * level)-th smallest score.

    With exchangeable calibration and test scores, P(test score <= q) >= level. Infinite when
    there are too few scores for that guarantee.
    """
    if not 0 < level < 1:
        raise ValueError(f"interval level must be in (0, 1), got {level}")
    scores = np.sort(np.asarray(scores, dtype="float64"))
    rank = math.ceil((scores.size + 1) * level)
    return float(scores[rank - 1]) if rank <= scores.size else math.inf


@dataclass(frozen=True)
class CalibrationSample:
    """One ticker's validation forecasts: points (n, H), sigmas (n,), and per step the mask of
    origins whose target lies inside validation and those actual closes."""

    points: np.ndarray
    sigmas: np.ndarray
    targets: list[tuple[np.ndarray, np.ndarray]]  # step k-1: (valid mask, actual closes)


def calibrate_quantiles(
    samples: Iterable[CalibrationSample], level: float, max_horizon: int
) -> tuple[list[float], list[int]]:
    """Per step, the conformal quantile of scores pooled over tickers, and the score counts."""
    samples = list(samples)
    quantiles, counts = [], []
    for k in range(1, max_horizon + 1):
        scores = [
            np.abs(np.log(actual / s.points[valid, k - 1])) / s.sigmas[valid]
            for s in samples
            for valid, actual in [s.targets[k - 1]]
        ]
        pooled = np.concatenate(scores) if scores else np.empty(0)
        q = conformal_quantile(pooled, level)
        if not math.isfinite(q):
            raise InputError(
                f"too few validation origins ({pooled.size}) to calibrate a {level:.0%} interval "
                f"at step {k}: lengthen the validation split or shorten max_horizon"
            )
        quantiles.append(q)
        counts.append(int(pooled.size))
    return quantiles, counts


def volatility_bands(close: np.ndarray, quantiles: np.ndarray, sigma: np.ndarray) -> Bands:
    """close * exp(±q_k * sigma): the interval of every step of every origin."""
    spread = np.exp(np.asarray(quantiles, dtype="float64")[: close.shape[-1]] * sigma[:, None])
    return Bands(close=close, lower=close / spread, upper=close * spread)
