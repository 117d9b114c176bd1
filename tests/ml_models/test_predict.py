"""The KerasForecaster: the same numbers as the Keras model, and clear errors for bad histories."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from stock_lstm.common.errors import ForecastInputError
from stock_lstm.ml_models.common.forecasting import Forecast
from stock_lstm.ml_models.common.scaling import fit_scaler, target_divisors
from stock_lstm.ml_models.lstm_model.model import build_model
from stock_lstm.ml_models.recurrent.inference import KerasForecaster
from tests.ml_models.conftest import snapshot_frame
from tests.ml_models.test_onnx_forecaster import CALIBRATION, FRACTIONS, HORIZON, WINDOW


@pytest.fixture(scope="module")
def model() -> keras.Model:
    """A model whose output is not zero (random output layer), so the comparison means something.
    Built once for the module: the tests only read it."""
    keras.utils.set_random_seed(5)
    model = build_model(WINDOW, HORIZON, units=6)
    dense = model.layers[-1]
    kernel, bias = dense.get_weights()
    rng = np.random.default_rng(0)
    dense.set_weights([rng.normal(0, 0.5, kernel.shape), rng.normal(0, 0.1, bias.shape)])
    return model


@pytest.fixture(scope="module")
def forecaster(model: keras.Model) -> KerasForecaster:
    scaler = fit_scaler(snapshot_frame(), FRACTIONS)
    return KerasForecaster(model, scaler, CALIBRATION)


@pytest.fixture
def closes(snapshot_features: pd.DataFrame) -> np.ndarray:
    return snapshot_features.loc[snapshot_features["ticker"] == "MSFT", "close"].to_numpy()[-40:]


def test_interface(forecaster: KerasForecaster) -> None:
    assert forecaster.min_history == WINDOW + 1
    assert forecaster.max_horizon == HORIZON
    assert forecaster.interval_level == 0.9
    forecaster.warm_up()


def test_forecast_equals_the_keras_model_output(
    forecaster: KerasForecaster, model: keras.Model, closes: np.ndarray
) -> None:
    x = forecaster.inputs(closes[np.newaxis, -forecaster.min_history :])
    assert x.shape == (1, WINDOW, 1)
    scaled = model.predict(x, verbose=0)[0].astype("float64")
    expected = closes[-1] * np.exp(scaled * target_divisors(forecaster._scaler, HORIZON))
    result = forecaster.forecast(closes, HORIZON)
    assert isinstance(result, Forecast)
    np.testing.assert_allclose(result.close, expected, rtol=1e-6)
    assert not np.allclose(result.close, closes[-1])  # not trivially the naive forecast
    np.testing.assert_allclose(forecaster.forecast(closes, 2).close, expected[:2], rtol=1e-6)


def test_batch_path_equals_the_single_path(forecaster: KerasForecaster, closes: np.ndarray) -> None:
    past = np.stack([closes[i : i + WINDOW + 1] for i in range(5)])
    batch = forecaster.forecast_batch(past)
    assert batch.close.shape == (5, HORIZON)
    for i in range(5):
        single = forecaster.forecast(past[i], HORIZON)
        np.testing.assert_allclose(batch.close[i], single.close, rtol=1e-6)
        np.testing.assert_allclose(batch.lower[i], single.lower, rtol=1e-6)
        np.testing.assert_allclose(batch.upper[i], single.upper, rtol=1e-6)


def test_only_the_last_min_history_closes_matter(
    forecaster: KerasForecaster, closes: np.ndarray
) -> None:
    long = forecaster.forecast(closes, 3)
    short = forecaster.forecast(closes[-forecaster.min_history :], 3)
    np.testing.assert_array_equal(long.close, short.close)


def test_interval_is_close_times_exp_of_q_sigma(
    forecaster: KerasForecaster, closes: np.ndarray
) -> None:
    result = forecaster.forecast(list(closes), HORIZON)
    sigma = np.std(np.diff(np.log(closes[-forecaster.min_history :]))[-5:])
    q = np.array([1.5, 1.6, 1.7, 1.8])
    np.testing.assert_allclose(result.upper, result.close * np.exp(q * sigma), rtol=1e-9)
    np.testing.assert_allclose(result.lower, result.close * np.exp(-q * sigma), rtol=1e-9)
    assert (result.lower < result.close).all() and (result.close < result.upper).all()


@pytest.mark.parametrize(
    ("history", "horizon", "message", "argument"),
    [
        (np.ones(5), 1, r"5 closes given, the model needs at least 9 \(window 8 \+ 1\)", "closes"),
        (np.r_[np.ones(8), np.nan], 1, "finite", "closes"),
        (np.r_[np.ones(8), np.inf], 1, "finite", "closes"),
        (np.r_[np.ones(8), -2.0], 1, "positive", "closes"),
        (np.r_[np.ones(8), 0.0], 1, "positive", "closes"),
        (np.ones(9), 0, r"horizon 0 is outside 1\.\.max_horizon 4", "horizon"),
        (np.ones(9), 5, r"horizon 5 is outside 1\.\.max_horizon 4", "horizon"),
        (np.ones(9), True, "integer", "horizon"),
        (np.ones(9), 1.5, "integer", "horizon"),
        (np.ones((3, 9)), 1, "one-dimensional", "closes"),
        (["a"] * 9, 1, "numbers", "closes"),
    ],
)
def test_bad_requests_raise_clear_errors(
    forecaster: KerasForecaster, history, horizon, message: str, argument: str
) -> None:
    with pytest.raises(ValueError, match=message) as raised:  # the agreed contract: ValueError
        forecaster.forecast(history, horizon)
    assert isinstance(raised.value, ForecastInputError)
    assert raised.value.argument == argument


def test_calibration_of_another_model_is_refused(model: keras.Model, snapshot_features) -> None:
    scaler = fit_scaler(snapshot_features, FRACTIONS)
    with pytest.raises(ValueError, match="window=60"):
        KerasForecaster(model, scaler, {"window": 60, "max_horizon": HORIZON})
    with pytest.raises(ValueError, match="3 quantiles"):
        KerasForecaster(model, scaler, {"quantiles": [1.0, 2.0, 3.0]})


def test_a_named_ticker_gets_its_own_interval_quantiles(
    model: keras.Model, snapshot_features: pd.DataFrame, closes: np.ndarray
) -> None:
    """scope "ticker": MSFT's own quantiles for MSFT; the pooled ones for a sent history
    (no ticker) and for a ticker the calibration never saw. The point forecast is the same."""
    scaler = fit_scaler(snapshot_features, FRACTIONS)
    pooled, own = [1.5, 1.6, 1.7, 1.8], [0.5, 0.6, 0.7, 0.8]
    calibration = {
        "level": 0.9,
        "vol_window": 5,
        "window": WINDOW,
        "max_horizon": HORIZON,
        "quantiles": pooled,
        "ticker_quantiles": {"MSFT": own},
    }
    forecaster = KerasForecaster(model, scaler, calibration)
    sigma = np.std(np.diff(np.log(closes))[-5:])
    for ticker, expected in (("MSFT", own), (None, pooled), ("NVDA", pooled)):
        result = forecaster.forecast(closes, HORIZON, ticker)
        np.testing.assert_allclose(
            result.upper, result.close * np.exp(np.array(expected) * sigma), rtol=1e-12
        )
        batch = forecaster.forecast_batch(closes[np.newaxis, -forecaster.min_history :], ticker)
        np.testing.assert_allclose(batch.lower[0], result.lower, rtol=1e-9)
    np.testing.assert_array_equal(
        forecaster.forecast(closes, HORIZON, "MSFT").close,
        forecaster.forecast(closes, HORIZON).close,
    )
    with pytest.raises(ValueError, match="3 quantiles for MSFT, the model forecasts 4 steps"):
        KerasForecaster(model, scaler, {**calibration, "ticker_quantiles": {"MSFT": own[:3]}})
