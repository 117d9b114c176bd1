"""The classical baseline: ETS with an additive damped trend on log closes (statsmodels).

Why ETS and not AutoARIMA (pmdarima) or Theta: an ETS fit per ticker and fold takes well under
a second on 20 years of closes, and with its parameters fixed one pass of statsmodels' own
recursion (`ETSModel.smooth`, a filter: each state reads closes up to its day only) gives the
level and trend at EVERY origin of a test year at once; the forecast from origin t is then the
model's k-step forecast `level_t + (phi + ... + phi^k) * trend_t`. A stepwise AutoARIMA search
per ticker and fold takes seconds to minutes on the full universe, and its forecasts of daily
log returns revert to the mean within a few steps, i.e. to the drift baseline. Theta is ETS's
simple-exponential-smoothing-with-drift special case. On log closes the additive model's
errors are relative, as the other baselines'.

Parameters are fitted per ticker on every row before the test period (train and validation);
the bands are volatility-scaled split conformal, calibrated on the validation origins like the
other point baselines (baselines.fit_conformal_baseline).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.baselines import ConformalBaseline, fit_conformal_baseline
from stock_lstm.ml_models.common.origins import SplitOrigins
from stock_lstm.ml_models.common.series import ticker_series
from stock_lstm.ml_models.common.splits import SplitSpec, assign_splits

ETS_MIN_ROWS = 100


def _ets_model(log_closes: np.ndarray) -> Any:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # training-side only

    return ETSModel(log_closes, error="add", trend="add", damped_trend=True)


def fit_ets_parameters(log_closes: np.ndarray) -> np.ndarray:
    """statsmodels' maximum-likelihood ETS(A,Ad,N) parameters of one series."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the fit is still usable
        return np.asarray(_ets_model(log_closes).fit(disp=False).params)


def ets_forecasts(
    log_closes: np.ndarray, parameters: np.ndarray, origins: np.ndarray, horizon: int
) -> np.ndarray:
    """(n, horizon) log-close forecasts from each origin row: statsmodels' filter with the
    parameters fixed over the series (state t reads closes up to row t), then the damped-trend
    k-step forecast. Rows after the last origin never change these forecasts."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        states = _ets_model(log_closes[: int(origins.max()) + 1]).smooth(parameters)
    level, trend = np.asarray(states.level), np.asarray(states.slope)
    phi = float(states.damping_trend)
    damping = np.cumsum(phi ** np.arange(1, horizon + 1))
    return level[origins][:, np.newaxis] + trend[origins][:, np.newaxis] * damping


def fit_ets(
    features: pd.DataFrame, fractions: SplitSpec, params: Mapping[str, Any]
) -> ConformalBaseline:
    """Per ticker, ETS(A,Ad,N) on log closes fitted on every row before the test period."""
    split = assign_splits(features, fractions)
    seen = split[split["split"] != "test"]
    parameters = {
        ticker: fit_ets_parameters(np.log(series.closes))
        for ticker, series in ticker_series(seen).items()
        if series.closes.size >= ETS_MIN_ROWS
    }

    def rule(ticker: str, period: SplitOrigins, horizon: int) -> np.ndarray:
        if ticker not in parameters:
            raise InputError(
                f"ets baseline: no parameters fitted for ticker {ticker!r} (fewer than "
                f"{ETS_MIN_ROWS} rows before the test period)"
            )
        logs = ets_forecasts(np.log(period.closes), parameters[ticker], period.origins, horizon)
        return np.exp(logs)

    return fit_conformal_baseline("ets", rule, features, fractions, params, reads_ticker=True)
