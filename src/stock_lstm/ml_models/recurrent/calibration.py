"""Interval calibration of a trained network, run by training (where validation lives).

Any network of the Forecaster's contract (the LSTM, the GRU) is calibrated here: its validation
forecasts and recent volatilities go to the shared split-conformal routine (common/intervals).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from stock_lstm.ml_models.common.intervals import CalibrationSample, calibrate
from stock_lstm.ml_models.common.origins import split_origins
from stock_lstm.ml_models.common.splits import split_dates
from stock_lstm.ml_models.model_types import model_type_of
from stock_lstm.ml_models.recurrent.provenance import artifact_fingerprints


def calibrate_intervals(
    model: Any,
    scaler: Any,
    features: pd.DataFrame,
    params: Mapping[str, Any],
    model_version: str | None = None,
) -> dict[str, Any]:
    """Split-conformal quantiles per step from VALIDATION residuals, pooled over tickers and,
    with `intervals.scope: ticker`, per stored ticker too.

    Score = |log(actual / forecast)| / sigma, sigma the history's recent volatility; the
    interval is forecast * exp(±q_k * sigma). Scaling by sigma lets one calibration serve calm
    and volatile periods and every ticker. Also records the run's model version and type (the save
    version of every training artifact), the split's cut-off dates and the fingerprints of
    the model and scaler, so evaluation can prove it evaluates one consistent set.
    """
    # TensorFlow: imported when a model is calibrated, not with the pipelines naming this node
    from stock_lstm.ml_models.recurrent.inference import KerasForecaster

    intervals = params["intervals"]
    level = float(intervals["level"])
    vol_window = int(intervals["vol_window"])
    forecaster = KerasForecaster(model, scaler, {"level": level, "vol_window": vol_window})
    samples = {
        ticker: CalibrationSample(
            points=forecaster.point_batch(period.histories),
            sigmas=forecaster.volatility(period.histories),
            targets=[period.step(k)[::2] for k in range(1, forecaster.max_horizon + 1)],
        )
        for ticker, period in split_origins(
            features, params["split"], "validation", forecaster.window
        ).items()
    }
    scope = str(intervals.get("scope", "pooled"))
    quantiles, counts = calibrate(samples, level, forecaster.max_horizon, scope)
    return {
        "method": "split conformal, |log(actual/forecast)| / recent volatility",
        "level": level,
        "scope": scope,
        "model_type": model_type_of(params),
        "vol_window": vol_window,
        "window": forecaster.window,
        "max_horizon": forecaster.max_horizon,
        "quantiles": [float(q) for q in quantiles.pooled],
        "ticker_quantiles": {
            ticker: [float(q) for q in own] for ticker, own in quantiles.by_ticker.items()
        },
        "n_calibration": counts,
        "data_version": features.attrs.get("version_id"),
        "model_version": model_version,
        "split": split_dates(features, params["split"]).as_dict(),
        "fingerprints": artifact_fingerprints(model, scaler),
    }
