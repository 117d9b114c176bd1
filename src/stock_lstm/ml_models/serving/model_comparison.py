"""Candidate against champion on a window neither model saw: the `if_better` promotion policy.

A model is fitted on its training rows (before its split's ``validation_start``) and
early-stopped, shrunk to naive and calibrated on its validation rows (before its
``test_start``). Scoring two models on the candidate's validation window would reward the one
stopped there (and a champion trained on the same or later rows has seen it). So both are
scored on the **unseen window**: every ticker's rows from the later of the two models'
``test_start`` to the ticker's last stored day (with the candidate's split this is its own test
split, already reserved for evaluation; a champion trained on newer data moves the start later).
The champion's cut-offs are those its `model_versions` row recorded (``metrics.split``). When
that window has no origin with a full horizon ahead, or the champion's cut-offs are unknown,
there is no fair comparison and ``window_problem`` says why (the policy keeps the champion).

Both models run through ONNX Runtime (OnnxForecaster) on the same origins. Model-agnostic: any
two forecasters of the contract.
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


def unseen_window_start(
    candidate_test_start: pd.Timestamp, champion: Mapping[str, Any] | None
) -> tuple[pd.Timestamp | None, str | None]:
    """The first day neither model was fitted, stopped or calibrated on: the later of the
    candidate's and the champion's recorded ``test_start``; (None, why) when the champion's
    row records no split (its training end is unknown)."""
    if champion is None or "onnx_model" not in champion:
        return candidate_test_start, None
    recorded = (champion.get("metrics") or {}).get("split") or {}
    if "test_start" not in recorded:
        return None, (
            f"champion {champion['model_version']} records no split (metrics.split.test_start): "
            "the rows it was fitted and stopped on are unknown"
        )
    return max(candidate_test_start, pd.Timestamp(recorded["test_start"])), None


def window_mae(
    forecasters: Mapping[str, Forecaster], features: pd.DataFrame, start: pd.Timestamp
) -> dict[str, Any]:
    """Each forecaster's MAE (price units) on the same origins dated from `start` on: per
    ticker, the mean absolute error over steps 1..H (H the smallest max_horizon) on origins
    whose H closes ahead are stored, then the mean over tickers. `window_problem` is set when
    no ticker has such an origin (then `mae` is empty)."""
    window = max(f.window for f in forecasters.values())
    horizon = min(f.max_horizon for f in forecasters.values())
    errors: dict[str, list[float]] = {name: [] for name in forecasters}
    origins_used, end = 0, start
    for series in ticker_series(features).values():
        first = int(np.searchsorted(series.dates, start.to_datetime64()))
        origins = window_origins(first, len(series.dates), window, horizon)
        end = max(end, pd.Timestamp(series.dates[-1]))
        if origins.size == 0:
            continue
        origins_used += int(origins.size)
        index = origins[:, np.newaxis] + np.arange(1, horizon + 1)[np.newaxis, :]
        actual = series.closes[index]
        for name, forecaster in forecasters.items():
            closes = histories(series.closes, origins, forecaster.window)
            forecast = forecaster.point_batch(closes)[:, :horizon]
            errors[name].append(float(np.mean(np.abs(actual - forecast))))
    problem = None
    if origins_used == 0:
        problem = (
            f"no origin from {start:%Y-%m-%d} on has {window} days of history and {horizon} "
            "stored closes ahead"
        )
    return {
        "window_start": f"{start:%Y-%m-%d}",
        "window_end": f"{end:%Y-%m-%d}",
        "steps": horizon,
        "origins": origins_used,
        "mae": {name: float(np.mean(v)) for name, v in errors.items() if v},
        "window_problem": problem,
    }


def compare_with_champion(
    onnx_model: bytes,
    scaler_params: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    features: pd.DataFrame,
    split: Mapping[str, float],
) -> dict[str, Any]:
    """The candidate's and the champion's MAE on the unseen window (module docstring), or only
    the candidate's (on its test split) when the registry has no champion or its files fail
    their check (`champion` is the `registry_champion` dataset's load: its version, metrics,
    ONNX bytes and scaler parameters, or its `problem`)."""
    forecasters: dict[str, Forecaster] = {
        "candidate": OnnxForecaster(onnx_model, scaler_params, None)
    }
    problem = champion.get("problem") if champion is not None else None
    if champion is not None and problem is None:
        forecasters["champion"] = OnnxForecaster(
            champion["onnx_model"], champion["scaler_params"], None
        )
    start, unknown = unseen_window_start(split_dates(features, split).test_start, champion)
    if start is None:
        scores: dict[str, Any] = {"mae": {}, "window_problem": unknown}
    else:
        scores = window_mae(forecasters, features, start)
    scores["champion_version"] = champion["model_version"] if champion is not None else None
    scores["champion_problem"] = problem
    return scores
