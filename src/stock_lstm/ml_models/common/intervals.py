"""Split-conformal prediction intervals scaled by recent volatility, for any point forecaster.

Score = |log(actual / forecast)| / sigma, sigma the history's recent volatility; the step-k
interval is forecast * exp(±q_k * sigma) with q_k the conformal quantile of validation scores.
Scaling by sigma lets one calibration serve calm and volatile periods and every ticker. The
LSTM, the GRU and the naive and drift baselines all get their bands this way, so the backtest
compares interval quality on equal terms.

The quantiles are pooled over tickers (scope "pooled") or, with scope "ticker", each stored
ticker also gets quantiles of its own validation scores (heavier-tailed tickers get wider
bands); a history of a ticker the calibration never saw always gets the pooled ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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


def nonconformity_scores(sample: CalibrationSample, k: int) -> np.ndarray:
    """The nonconformity scores |log(actual / forecast)| / sigma of one sample at step k."""
    valid, actual = sample.targets[k - 1]
    return np.abs(np.log(actual / sample.points[valid, k - 1])) / sample.sigmas[valid]


def calibrate_quantiles(
    samples: Iterable[CalibrationSample], level: float, max_horizon: int
) -> tuple[list[float], list[int]]:
    """Per step, the conformal quantile of scores pooled over tickers, and the score counts."""
    samples = list(samples)
    quantiles, counts = [], []
    for k in range(1, max_horizon + 1):
        scores = [nonconformity_scores(s, k) for s in samples]
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


INTERVAL_SCOPES = ("pooled", "ticker")


def check_scope(scope: str) -> str:
    """The calibration scope named in parameters, or a clear error."""
    if scope not in INTERVAL_SCOPES:
        raise InputError(
            f"training.intervals.scope must be one of {', '.join(INTERVAL_SCOPES)}, got {scope!r}"
        )
    return scope


@dataclass(frozen=True)
class IntervalQuantiles:
    """Per step k-1 the conformal quantile q_k: pooled over tickers, and per ticker where the
    scope is "ticker" (a ticker not listed gets the pooled ones)."""

    pooled: np.ndarray  # (max_horizon,)
    by_ticker: Mapping[str, np.ndarray] = field(default_factory=dict)

    def of(self, ticker: str | None) -> np.ndarray:
        """The quantiles for `ticker`'s bands: its own if calibrated, else the pooled ones."""
        own = self.by_ticker.get(ticker) if ticker is not None else None
        return self.pooled if own is None else own

    @classmethod
    def from_calibration(cls, calibration: Mapping[str, object]) -> IntervalQuantiles | None:
        """From an interval_calibration artifact (None when it holds no quantiles)."""
        pooled = calibration.get("quantiles")
        if pooled is None:
            return None
        by_ticker = calibration.get("ticker_quantiles") or {}
        return cls(
            pooled=np.asarray(pooled, dtype="float64"),
            by_ticker={str(t): np.asarray(q, dtype="float64") for t, q in dict(by_ticker).items()},
        )


def calibrate(
    samples: Mapping[str, CalibrationSample], level: float, max_horizon: int, scope: str
) -> tuple[IntervalQuantiles, list[int]]:
    """The pooled quantiles (and score counts) of every ticker's samples, and with scope
    "ticker" each ticker's own. A ticker with too few scores for a finite quantile at some step
    keeps the pooled ones (so each listed ticker has a quantile at every step)."""
    pooled, counts = calibrate_quantiles(samples.values(), level, max_horizon)
    by_ticker = {}
    if check_scope(scope) == "ticker":
        for ticker, sample in samples.items():
            own = [
                conformal_quantile(nonconformity_scores(sample, k), level)
                for k in range(1, max_horizon + 1)
            ]
            if all(math.isfinite(q) for q in own):
                by_ticker[ticker] = np.asarray(own)
    return IntervalQuantiles(np.asarray(pooled), by_ticker), counts


def volatility_bands(close: np.ndarray, quantiles: np.ndarray, sigma: np.ndarray) -> Bands:
    """close * exp(±q_k * sigma): the interval of every step of every origin."""
    spread = np.exp(np.asarray(quantiles, dtype="float64")[: close.shape[-1]] * sigma[:, None])
    return Bands(close=close, lower=close / spread, upper=close * spread)
