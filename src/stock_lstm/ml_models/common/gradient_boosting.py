"""The global gradient-boosting baseline: one LightGBM model over every ticker's lagged returns.

A row is one ticker-day: its last `lags` daily log returns -> the next one. One model learns from
every ticker at once (a global model, as mlforecast or darts' LightGBMModel would build; neither
installs beside the project's pandas). Multi-step forecasts are recursive: the predicted return
is appended to the lags and the model asked again, 30 times for 30 steps (mlforecast's default
strategy), vectorised over origins. Trained on the TRAINING rows only (like the networks); the
bands are volatility-scaled split conformal calibrated on the validation origins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.baselines import ConformalBaseline, fit_conformal_baseline
from stock_lstm.ml_models.common.origins import SplitOrigins
from stock_lstm.ml_models.common.series import log_returns, ticker_series
from stock_lstm.ml_models.common.splits import SplitSpec, split_dates

# LightGBM's knobs (backtest.lightgbm in conf/base/parameters_backtest.yml may override)
DEFAULTS: dict[str, Any] = {
    "lags": 20,
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 200,
    "seed": 42,
}


def lagged_rows(closes: np.ndarray, end: int, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows (lags returns -> next return) whose target close lies before row `end`."""
    returns = log_returns(closes[:end])
    if returns.size <= lags:
        return np.empty((0, lags)), np.empty(0)
    x = np.lib.stride_tricks.sliding_window_view(returns[:-1], lags)
    return x, returns[lags:]


@dataclass(frozen=True)
class RecursiveBooster:
    """A fitted one-step LightGBM regressor, iterated over the horizon."""

    model: Any
    lags: int

    def point(self, histories: np.ndarray, horizon: int) -> np.ndarray:
        if histories.shape[1] <= self.lags:
            raise InputError(
                f"lightgbm baseline: a history of {histories.shape[1]} closes is shorter than "
                f"lags + 1 = {self.lags + 1} (training.model.window must be >= lags)"
            )
        lags = log_returns(histories)[:, -self.lags :]
        cumulative = np.zeros((histories.shape[0], horizon))
        total = np.zeros(histories.shape[0])
        for k in range(horizon):
            step = self.model.predict(lags)
            total = total + step
            cumulative[:, k] = total
            lags = np.concatenate([lags[:, 1:], step[:, np.newaxis]], axis=1)
        return histories[:, -1:] * np.exp(cumulative)


def fit_lightgbm(
    features: pd.DataFrame,
    fractions: SplitSpec,
    params: Mapping[str, Any],
    knobs: Mapping[str, Any] | None = None,
) -> ConformalBaseline:
    """One LightGBM model on every ticker's training rows; conformal bands on validation."""
    from lightgbm import LGBMRegressor  # training-side only

    settings = {**DEFAULTS, **(knobs or {})}
    lags = int(settings.pop("lags"))
    cutoffs = split_dates(features, fractions)
    xs, ys = [], []
    for series in ticker_series(features).values():
        x, y = lagged_rows(series.closes, cutoffs.bounds(series.dates).train_end, lags)
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    if y.size < int(settings["min_child_samples"]) * 2:
        raise InputError(
            f"lightgbm baseline: {y.size} training rows, too few for min_child_samples="
            f"{settings['min_child_samples']}"
        )
    model = LGBMRegressor(
        objective="regression",
        n_estimators=int(settings["n_estimators"]),
        learning_rate=float(settings["learning_rate"]),
        num_leaves=int(settings["num_leaves"]),
        min_child_samples=int(settings["min_child_samples"]),
        random_state=int(settings["seed"]),
        n_jobs=1,
        deterministic=True,
        verbose=-1,
    ).fit(x, y)
    booster = RecursiveBooster(model, lags)

    def rule(_ticker: str, period: SplitOrigins, horizon: int) -> np.ndarray:
        return booster.point(period.histories, horizon)

    return fit_conformal_baseline("lightgbm", rule, features, fractions, params, reads_ticker=True)
