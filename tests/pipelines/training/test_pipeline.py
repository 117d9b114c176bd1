"""training on an in-memory catalog with the test environment's tiny parameters."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from stock_lstm.ml_models.recurrent.inference import KerasForecaster
from stock_lstm.ml_models.serving.onnx_forecaster import OnnxForecaster
from stock_lstm.pipelines.training import create_pipeline
from tests.conftest import environment_parameters
from tests.ml_models.conftest import random_walk_features


class KeptDataset(MemoryDataset):
    """Keeps its data after the run (the runner releases intermediate datasets)."""

    def _release(self) -> None:
        pass


def test_training_writes_scaler_model_history_and_calibration() -> None:
    params = environment_parameters("test")["training"]
    features = random_walk_features({"AAA": 300, "BBB": 250}, seed=4)
    features.attrs["version_id"] = 5
    outputs = {
        name: KeptDataset(copy_mode="assign")
        for name in (
            "scaler",
            "lstm_model",
            "training_history",
            "interval_calibration",
            "onnx_model",
            "scaler_params",
        )
    }
    catalog = DataCatalog(
        {
            "features": MemoryDataset(features, copy_mode="assign"),
            "params:training": MemoryDataset(params, copy_mode="assign"),
            "params:training.split": MemoryDataset(params["split"], copy_mode="assign"),
            "model_save_version": MemoryDataset("2026-01-02T03.04.05.678Z"),
            **outputs,
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)

    # One calendar from 2001-01-01; the common period is BBB's 250 days: validation from row
    # round(250 * 0.70) = 175, test from round(250 * 0.85) = round(212.5) = 212.
    dates = pd.bdate_range("2001-01-01", periods=250)
    scaler = outputs["scaler"].load()
    train = np.concatenate(
        [
            np.diff(np.log(features.loc[features["ticker"] == t, "close"].to_numpy()[:175]))
            for t in ("AAA", "BBB")
        ]
    )
    assert scaler.mean_[0] == np.float64(train.mean())

    model = outputs["lstm_model"].load()
    assert isinstance(model, keras.Model)
    window, horizon = params["model"]["window"], params["model"]["max_horizon"]
    assert model.input_shape == (None, window, 1) and model.output_shape == (None, horizon)

    history = outputs["training_history"].load()
    assert history["data_version"] == 5 and 1 <= history["epochs_run"] <= params["fit"]["epochs"]
    assert history["model_version"] == "2026-01-02T03.04.05.678Z"
    assert history["split"]["validation_start"] == f"{dates[175]:%Y-%m-%d}"
    assert history["split"]["test_start"] == f"{dates[212]:%Y-%m-%d}"

    calibration = outputs["interval_calibration"].load()
    assert calibration["level"] == params["intervals"]["level"]
    assert (calibration["window"], calibration["max_horizon"]) == (window, horizon)
    assert len(calibration["quantiles"]) == horizon
    assert all(np.isfinite(calibration["quantiles"])) and calibration["data_version"] == 5
    assert calibration["model_version"] == "2026-01-02T03.04.05.678Z"
    assert calibration["split"] == history["split"]
    assert set(calibration["fingerprints"]) == {"model_weights_sha256", "scaler_sha256"}

    # What the API serves: the ONNX export and the scaler as JSON, forecasting what Keras does.
    scaler_params = outputs["scaler_params"].load()
    assert scaler_params == {
        "kind": "standard",
        "mean": [scaler.mean_[0]],
        "scale": [scaler.scale_[0]],
    }
    keras_side = KerasForecaster(model, scaler, calibration)
    onnx_side = OnnxForecaster(outputs["onnx_model"].load(), scaler_params, calibration)
    closes = features.loc[features["ticker"] == "AAA", "close"].to_numpy()
    histories = np.lib.stride_tricks.sliding_window_view(closes[-60:], window + 1)
    np.testing.assert_allclose(
        onnx_side.forecast_batch(histories).close,
        keras_side.forecast_batch(histories).close,
        rtol=1e-5,
    )
