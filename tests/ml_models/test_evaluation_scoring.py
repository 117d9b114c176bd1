"""Evaluation scores each step with that step's forecast: checked by hand on a network whose
output is fixed and not naive (a different log return per step)."""

from __future__ import annotations

import numpy as np
import pytest

from stock_lstm.ml_models.common.scaling import fit_scaler, target_divisors
from stock_lstm.ml_models.lstm_model.model import build_model
from stock_lstm.ml_models.recurrent.calibration import calibrate_intervals
from stock_lstm.ml_models.recurrent.evaluate import evaluate_model
from tests.ml_models.conftest import random_walk_features

FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}
WINDOW, HORIZON, ROWS = 12, 5, 1500
# scaled output per step: zero kernel, so the forecast ignores the inputs
OUTPUT = np.array([0.8, -1.5, 2.5, -3.0, 4.0], dtype="float32")


def test_each_step_is_scored_with_its_own_forecast() -> None:
    features = random_walk_features({"AAA": ROWS, "BBB": ROWS}, sigma=0.01, seed=11)
    scaler = fit_scaler(features, FRACTIONS)
    model = build_model(WINDOW, HORIZON, units=4)
    kernel, _ = model.layers[-1].get_weights()
    model.layers[-1].set_weights([np.zeros_like(kernel), OUTPUT])
    params = {"split": FRACTIONS, "intervals": {"level": 0.9, "vol_window": WINDOW}}
    calibration = calibrate_intervals(model, scaler, features, params, "fixed")

    report, _, _ = evaluate_model(
        model, scaler, calibration, features, FRACTIONS, {"report_steps": [1, 3, 5]}
    )

    step_log_returns = OUTPUT.astype("float64") * target_divisors(scaler, HORIZON)
    assert len(set(np.round(step_log_returns, 6))) == HORIZON  # every step differs
    closes = features.loc[features["ticker"] == "AAA", "close"].to_numpy()
    test_start = int(round(ROWS * 0.85))
    for k in (1, 3, 5):
        origins = np.arange(test_start, ROWS - k)
        forecast = closes[origins] * np.exp(step_log_returns[k - 1])
        mae = np.mean(np.abs(closes[origins + k] - forecast))
        naive_mae = np.mean(np.abs(closes[origins + k] - closes[origins]))
        step = report["tickers"]["AAA"][f"h{k}"]
        assert step["n"] == origins.size
        assert step["lstm"]["mae"] == pytest.approx(mae, rel=1e-5)
        assert step["mae_ratio"] == pytest.approx(mae / naive_mae, rel=1e-5)
        assert step["mae_ratio"] != pytest.approx(1.0, abs=1e-3)  # not the naive forecast
