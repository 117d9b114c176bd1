"""The ONNX export and its forecaster: the same forecasts as Keras, any model of the contract,
JSON scaler parameters instead of a pickle, and no TensorFlow on the serving side."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from stock_lstm.common.errors import ForecastInputError
from stock_lstm.ml_models.common.scaling import fit_scaler, scaler_parameters
from stock_lstm.ml_models.lstm_model.model import build_model
from stock_lstm.ml_models.recurrent.inference import KerasForecaster
from stock_lstm.ml_models.recurrent.keras_training import shrink_toward_naive
from stock_lstm.ml_models.serving.onnx_export import export_onnx, onnx_parity
from stock_lstm.ml_models.serving.onnx_forecaster import OnnxForecaster

FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}
WINDOW, HORIZON = 8, 4
CALIBRATION = {
    "level": 0.9,
    "vol_window": 5,
    "window": WINDOW,
    "max_horizon": HORIZON,
    "quantiles": [1.5, 1.6, 1.7, 1.8],
}


def randomised(model: keras.Model, seed: int = 0) -> keras.Model:
    """Random weights everywhere, so Keras and ONNX are compared on outputs far from zero."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in model.get_weights()])
    return model


def gru_model(window: int, horizon: int) -> keras.Model:
    """Another architecture of the same contract (what a second model type looks like)."""
    inputs = keras.Input(shape=(window, 1))
    hidden = keras.layers.GRU(5)(inputs)
    return keras.Model(inputs, keras.layers.Dense(horizon)(hidden))


@pytest.fixture
def lstm() -> keras.Model:
    keras.utils.set_random_seed(5)
    return randomised(build_model(WINDOW, HORIZON, units=6))


@pytest.fixture(scope="module")
def exported() -> tuple[keras.Model, bytes]:
    """`lstm` and its ONNX export, made once for the tests that only read them (the skill-gate
    test changes its model's weights: it takes its own `lstm`)."""
    keras.utils.set_random_seed(5)
    model = randomised(build_model(WINDOW, HORIZON, units=6))
    return model, export_onnx(model)


@pytest.fixture
def scaler(snapshot_features: pd.DataFrame):
    return fit_scaler(snapshot_features, FRACTIONS)


@pytest.fixture
def histories(snapshot_features: pd.DataFrame) -> np.ndarray:
    closes = snapshot_features.loc[snapshot_features["ticker"] == "MSFT", "close"].to_numpy()
    return np.lib.stride_tricks.sliding_window_view(closes[-80:], WINDOW + 1)


@pytest.mark.parametrize("architecture", ["lstm", "gru"])
def test_onnx_forecasts_equal_the_keras_forecasts(
    architecture: str, exported: tuple[keras.Model, bytes], scaler, histories: np.ndarray
) -> None:
    if architecture == "lstm":
        model, onnx_model = exported
    else:
        model = randomised(gru_model(WINDOW, HORIZON), seed=3)
        onnx_model = export_onnx(model)
    keras_side = KerasForecaster(model, scaler, CALIBRATION)
    onnx_side = OnnxForecaster(onnx_model, scaler_parameters(scaler), CALIBRATION)
    assert (onnx_side.window, onnx_side.max_horizon, onnx_side.min_history) == (
        WINDOW,
        HORIZON,
        WINDOW + 1,
    )
    expected, actual = keras_side.forecast_batch(histories), onnx_side.forecast_batch(histories)
    assert np.abs(expected.close - histories[:, -1:]).max() > 0.01  # not the naive forecast
    for side in ("close", "lower", "upper"):
        np.testing.assert_allclose(getattr(actual, side), getattr(expected, side), rtol=1e-5)
    single = onnx_side.forecast(histories[-1], 3)
    np.testing.assert_allclose(single.close, expected.close[-1, :3], rtol=1e-5)


def test_scaler_parameters_are_json_and_scale_like_the_scaler(scaler) -> None:
    params = scaler_parameters(scaler)
    assert params == {
        "kind": "standard",
        "mean": [float(scaler.mean_[0])],
        "scale": [float(scaler.scale_[0])],
    }


def test_onnx_forecaster_checks_input_and_calibration(
    exported: tuple[keras.Model, bytes], scaler
) -> None:
    onnx_model = exported[1]
    forecaster = OnnxForecaster(onnx_model, scaler_parameters(scaler), CALIBRATION)
    with pytest.raises(ForecastInputError, match="needs at least 9"):
        forecaster.forecast([100.0] * WINDOW, 1)
    with pytest.raises(ForecastInputError, match="outside 1..max_horizon 4"):
        forecaster.forecast([100.0] * 20, 5)
    with pytest.raises(ValueError, match="made for window=60"):
        OnnxForecaster(onnx_model, scaler_parameters(scaler), {**CALIBRATION, "window": 60})


def test_parity_reports_the_difference_and_the_files_sha256(
    exported: tuple[keras.Model, bytes], scaler, snapshot_features: pd.DataFrame
) -> None:
    lstm, onnx_model = exported
    parity = onnx_parity(
        lstm, onnx_model, scaler, snapshot_features, FRACTIONS, {"max_abs_diff": 1e-5}
    )
    assert parity["passed"] and parity["max_abs_diff"] <= 1e-5 and parity["n_windows"] > 50
    assert parity["onnx_sha256"] == hashlib.sha256(onnx_model).hexdigest()
    # Another model's export does not compute what this Keras model does: parity fails.
    other = export_onnx(randomised(build_model(WINDOW, HORIZON, units=6), seed=9))
    failed = onnx_parity(lstm, other, scaler, snapshot_features, FRACTIONS, {"max_abs_diff": 1e-5})
    assert not failed["passed"] and failed["max_abs_diff"] > 1e-3


def test_the_skill_gate_is_in_the_exported_model(lstm: keras.Model) -> None:
    """Validation targets the output tracks at step 1 only: the gate keeps step 1 and sends
    steps 2..4 to naive (zero output) in the head's weights, so ONNX serves the same gate."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(300, WINDOW, 1)).astype("float32")
    output = lstm.predict(x, verbose=0)
    y = np.concatenate([output[:, :1], rng.normal(0, 1, (300, HORIZON - 1))], axis=1)
    assert shrink_toward_naive(lstm, x, y, 128, skill_gate_level=0.05)["factors"][1:] == [0.0] * 3
    served = OnnxForecaster(export_onnx(lstm), {"mean": [0.0], "scale": [1.0]}, None)
    onnx_out = served.model_output(x)
    np.testing.assert_allclose(onnx_out[:, 0], output[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(onnx_out[:, 1:], 0.0)


def test_the_serving_forecaster_imports_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "import stock_lstm.ml_models.serving.onnx_forecaster\n"
        "bad = [m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
