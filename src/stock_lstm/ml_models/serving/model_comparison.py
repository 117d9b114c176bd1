"""Candidate against champion on the same validation window: the `if_better` promotion policy.

Both models are run through ONNX Runtime (OnnxForecaster) on the same origins of the
candidate's validation split, so the champion is scored on today's data, not on the window it
was evaluated on when it was trained. Model-agnostic: any two forecasters of the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stock_lstm.ml_models.common.forecasting import Forecaster
from stock_lstm.ml_models.common.series import ticker_series
from stock_lstm.ml_models.common.splits import split_dates
from stock_lstm.ml_models.common.windows import histories, window_origins
from stock_lstm.ml_models.serving.onnx_forecaster import OnnxForecaster


def validation_mae(
    forecasters: Mapping[str, Forecaster], features: pd.DataFrame, split: Mapping[str, float]
) -> dict[str, Any]:
    """Each forecaster's MAE (price units) on the same validation origins: per ticker, the mean
    absolute error over steps 1..H (H the smallest max_horizon), then the mean over tickers.

    Origins leave room for the longest window, so every model sees the same forecasts to make.
    """
    window = max(f.window for f in forecasters.values())
    horizon = min(f.max_horizon for f in forecasters.values())
    cutoffs = split_dates(features, split)
    errors: dict[str, list[float]] = {name: [] for name in forecasters}
    origins_used = 0
    for series in ticker_series(features).values():
        start, end = cutoffs.bounds(series.dates).rows("validation")
        origins = window_origins(start, end, window, horizon)
        if origins.size == 0:
            continue
        origins_used += int(origins.size)
        index = origins[:, np.newaxis] + np.arange(1, horizon + 1)[np.newaxis, :]
        actual = series.closes[index]
        for name, forecaster in forecasters.items():
            closes = histories(series.closes, origins, forecaster.window)
            forecast = forecaster.point_batch(closes)[:, :horizon]
            errors[name].append(float(np.mean(np.abs(actual - forecast))))
    if origins_used == 0:
        raise ValueError(
            f"no validation origin with {window} days of history and {horizon} steps ahead: "
            "the models cannot be compared"
        )
    return {
        "validation_start": f"{cutoffs.validation_start:%Y-%m-%d}",
        "test_start": f"{cutoffs.test_start:%Y-%m-%d}",
        "steps": horizon,
        "origins": origins_used,
        "mae": {name: float(np.mean(values)) for name, values in errors.items()},
    }


def compare_with_champion(
    onnx_model: bytes,
    scaler_params: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    features: pd.DataFrame,
    split: Mapping[str, float],
) -> dict[str, Any]:
    """The candidate's and the champion's validation MAE on the candidate's window, or only
    the candidate's when the registry has no champion or its files fail their check
    (`champion` is the `registry_champion` dataset's load: its version, ONNX bytes and scaler
    parameters, or its `problem`)."""
    forecasters: dict[str, Forecaster] = {
        "candidate": OnnxForecaster(onnx_model, scaler_params, None)
    }
    problem = champion.get("problem") if champion is not None else None
    if champion is not None and problem is None:
        forecasters["champion"] = OnnxForecaster(
            champion["onnx_model"], champion["scaler_params"], None
        )
    scores = validation_mae(forecasters, features, split)
    scores["champion_version"] = champion["model_version"] if champion is not None else None
    scores["champion_problem"] = problem
    return scores
