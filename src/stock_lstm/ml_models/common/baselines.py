"""The standard baselines every model is measured against, with 90% intervals of their own.

- naive: close[t+k] = close[t] (a random walk's best forecast);
- drift: close[t+k] = close[t] * exp(k * mu_ticker), mu_ticker the mean daily log return of
  the ticker's own rows before the test period (every one of them: a drift needs no early
  stopping); a ticker the fit never saw gets the pooled mean. `drift_rate` (pooled, training
  rows only) stays the evaluation pipeline's drift;
- median_drift: close[t+k] = close[t] * exp(m_k), m_k the median k-step log return of the
  ticker's rows before the test period: the constant that minimises the MAE a network trained
  on an MAE loss is judged by (the mean-based drift minimises the squared error instead);
- garch: a constant-mean GARCH(1,1) per ticker from `arch` (Sheppard's well-kept library),
  point forecast close[t] * exp(k * mu_ticker) and Gaussian intervals from the model's own
  k-step variance forecast. It is the classical model of daily returns' volatility clustering,
  so it tests the one thing a price-level model cannot beat naive on: the width of the bands.
  (statsforecast's ETS/ARIMA would fit the levels and pull in numba's compile time for a
  point forecast no better than naive on daily closes.)

Naive, drift and median_drift get volatility-scaled split-conformal bands calibrated on the validation tail,
exactly like the neural models (intervals.py), so interval quality is compared, not only point
error. Every fit sees only rows before the test period; none imports TensorFlow.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.intervals import (
    Bands,
    CalibrationSample,
    IntervalQuantiles,
    calibrate,
    volatility_bands,
)
from stock_lstm.ml_models.common.origins import SplitOrigins, split_origins
from stock_lstm.ml_models.common.series import log_returns, recent_volatility, ticker_series
from stock_lstm.ml_models.common.splits import SplitSpec, assign_splits

PointForecast = Callable[[np.ndarray, int], np.ndarray]  # histories (n, m), horizon -> (n, horizon)
# A point rule that may read the ticker and its whole past: (ticker, origins, horizon) -> (n, horizon)
PointRule = Callable[[str, SplitOrigins, int], np.ndarray]


def naive_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """Tomorrow's close = today's close, for every step: (n, horizon) from histories (n, m)."""
    history = np.atleast_2d(history)
    return np.repeat(history[:, -1:], horizon, axis=1)


def drift_rate(features: pd.DataFrame, fractions: SplitSpec) -> float:
    """mu: the mean daily log return of the TRAINING rows, pooled over every ticker."""
    split = assign_splits(features, fractions)
    train = split.loc[split["split"] == "train", "log_return"].to_numpy(dtype="float64")
    train = train[np.isfinite(train)]
    if train.size == 0:
        raise InputError("no training log returns to estimate the drift from")
    return float(train.mean())


def drift_forecast(history: np.ndarray, horizon: int, mu: float) -> np.ndarray:
    """close[t] * exp(k * mu) for k = 1..horizon: (n, horizon) from histories (n, m)."""
    history = np.atleast_2d(history)
    steps = np.arange(1, horizon + 1, dtype="float64")
    return history[:, -1:] * np.exp(mu * steps)[np.newaxis, :]


def history_rule(point: PointForecast) -> PointRule:
    """A rule that reads only each origin's window of closes (the histories)."""

    def rule(_ticker: str, period: SplitOrigins, horizon: int) -> np.ndarray:
        return point(period.histories, horizon)

    return rule


@dataclass(frozen=True)
class ConformalBaseline:
    """A point rule with volatility-scaled split-conformal bands (intervals.py)."""

    name: str
    rule: PointRule
    quantiles: IntervalQuantiles
    vol_window: int

    def forecast(self, ticker: str, period: SplitOrigins) -> Bands:
        close = self.rule(ticker, period, len(self.quantiles.pooled))
        sigma = recent_volatility(log_returns(period.histories), self.vol_window)
        return volatility_bands(close, self.quantiles.of(ticker), sigma)


def fit_conformal_baseline(
    name: str,
    point: PointForecast | PointRule,
    features: pd.DataFrame,
    fractions: SplitSpec,
    params: Mapping[str, Any],
    *,
    reads_ticker: bool = False,
) -> ConformalBaseline:
    """Calibrate `point`'s bands on the validation origins (params: window, max_horizon, level,
    vol_window, scope). `reads_ticker`: `point` is a PointRule (ticker, origins, horizon)."""
    rule: PointRule = point if reads_ticker else history_rule(point)  # type: ignore[arg-type]
    window, horizon = int(params["window"]), int(params["max_horizon"])
    vol_window = min(int(params["vol_window"]), window)
    samples = {
        ticker: CalibrationSample(
            points=rule(ticker, period, horizon),
            sigmas=recent_volatility(log_returns(period.histories), vol_window),
            targets=[period.step(k)[::2] for k in range(1, horizon + 1)],
        )
        for ticker, period in split_origins(features, fractions, "validation", window).items()
    }
    scope = str(params.get("scope", "pooled"))
    quantiles, _ = calibrate(samples, float(params["level"]), horizon, scope)
    return ConformalBaseline(name, rule, quantiles, vol_window)


def fit_naive(
    features: pd.DataFrame, fractions: SplitSpec, params: Mapping[str, Any]
) -> ConformalBaseline:
    return fit_conformal_baseline("naive", naive_forecast, features, fractions, params)


def ticker_drift_rates(features: pd.DataFrame) -> tuple[dict[str, float], float]:
    """Per ticker, the mean daily log return of every row it has in `features` (the rows before
    the test period); and the pooled mean, for a ticker the fit never saw."""
    returns = features[["ticker", "log_return"]].dropna()
    if returns.empty:
        raise InputError("no log returns to estimate the drift from")
    by_ticker = returns.groupby("ticker", sort=True)["log_return"].mean()
    return {str(t): float(mu) for t, mu in by_ticker.items()}, float(returns["log_return"].mean())


def fit_drift(
    features: pd.DataFrame, fractions: SplitSpec, params: Mapping[str, Any]
) -> ConformalBaseline:
    """Each series' own drift, fitted on every row before the test period."""
    rates, pooled = ticker_drift_rates(_before_test(features, fractions))

    def rule(ticker: str, period: SplitOrigins, horizon: int) -> np.ndarray:
        return drift_forecast(period.histories, horizon, rates.get(ticker, pooled))

    return fit_conformal_baseline("drift", rule, features, fractions, params, reads_ticker=True)


def median_log_changes(closes: np.ndarray, horizon: int) -> np.ndarray:
    """m_k = median over t of log(closes[t+k] / closes[t]) for k = 1..horizon."""
    logs = np.log(closes)
    out = np.full(horizon, np.nan)
    for k in range(1, horizon + 1):
        if logs.size > k:
            out[k - 1] = float(np.median(logs[k:] - logs[:-k]))
    return out


def fit_median_drift(
    features: pd.DataFrame, fractions: SplitSpec, params: Mapping[str, Any]
) -> ConformalBaseline:
    """close[t] * exp(median k-step log return), per series, on every row before the test."""
    horizon = int(params["max_horizon"])
    seen = _before_test(features, fractions)
    medians = {
        ticker: median_log_changes(series.closes, horizon)
        for ticker, series in ticker_series(seen).items()
    }
    pooled = np.nanmedian(np.stack(list(medians.values())), axis=0)

    def rule(ticker: str, period: SplitOrigins, steps: int) -> np.ndarray:
        m = np.nan_to_num(medians.get(ticker, pooled)[:steps], nan=0.0)
        return period.histories[:, -1:] * np.exp(m)[np.newaxis, :]

    return fit_conformal_baseline(
        "median_drift", rule, features, fractions, params, reads_ticker=True
    )


def _before_test(features: pd.DataFrame, fractions: SplitSpec) -> pd.DataFrame:
    """The rows a baseline may fit on: every row before the test period (train and validation)."""
    split = assign_splits(features, fractions)
    return split[split["split"] != "test"]


# --- GARCH(1,1), arch ----------------------------------------------------------------------

PERCENT = 100.0  # arch's optimiser is tuned for returns in percent
GARCH_MIN_RETURNS = 100


@dataclass(frozen=True)
class GarchBaseline:
    """Per ticker, GARCH(1,1) parameters fitted on the rows before the test period; forecasts
    filter the variance through each origin with those parameters fixed (past data only)."""

    parameters: dict[str, np.ndarray]
    max_horizon: int
    level: float

    def forecast(self, ticker: str, period: SplitOrigins) -> Bands:
        if ticker not in self.parameters:
            raise InputError(
                f"garch baseline: no parameters fitted for ticker {ticker!r} (it had fewer "
                f"than {GARCH_MIN_RETURNS} returns before the test period, or none)"
            )
        from arch import arch_model  # arch and SciPy: imported when a GARCH baseline runs
        from scipy.stats import norm

        params = self.parameters[ticker]
        returns = pd.Series(PERCENT * log_returns(period.closes))  # label i = return into row i+1
        fixed = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, rescale=False)
        result = fixed.fix(params)
        first = int(period.origins[0]) - 1
        variance = result.forecast(
            horizon=self.max_horizon, start=first, reindex=False, method="analytic"
        ).variance.to_numpy()
        rows = period.origins - 1 - first
        cumulative_sd = np.sqrt(np.cumsum(variance[rows], axis=1)) / PERCENT
        mu = float(params[0]) / PERCENT
        steps = np.arange(1, self.max_horizon + 1, dtype="float64")
        close = period.closes[period.origins][:, np.newaxis] * np.exp(mu * steps)
        z = float(norm.ppf(0.5 + self.level / 2.0))
        spread = np.exp(z * cumulative_sd)
        return Bands(close=close, lower=close / spread, upper=close * spread)


def fit_garch(
    features: pd.DataFrame, fractions: SplitSpec, params: Mapping[str, Any]
) -> GarchBaseline:
    """Fit on every row before the test period (train and validation: GARCH needs neither
    early stopping nor conformal calibration)."""
    from arch import arch_model  # imported when GARCH is fitted, not with the pipelines

    split = assign_splits(features, fractions)
    fitted = {}
    for ticker, rows in split[split["split"] != "test"].groupby("ticker", sort=True):
        returns = rows["log_return"].to_numpy(dtype="float64")
        returns = returns[np.isfinite(returns)]
        if returns.size < GARCH_MIN_RETURNS:
            continue  # too short to fit: forecasting it raises, naming the ticker
        model = arch_model(PERCENT * returns, mean="Constant", vol="GARCH", p=1, q=1, rescale=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; the fit is still usable
            result = model.fit(disp="off", show_warning=False)
        fitted[str(ticker)] = result.params.to_numpy()
    return GarchBaseline(fitted, int(params["max_horizon"]), float(params["level"]))
