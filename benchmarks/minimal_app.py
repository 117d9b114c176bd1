"""The floor of this serving stack (issue 27): a minimal FastAPI app that loads the same ONNX
model files as the API and answers `POST /predict` from a sent list of closes. No database,
logging, metrics, request ids, registry or error bodies: what is left is FastAPI, pydantic,
uvicorn, numpy and ONNX Runtime, which the project's API is measured against
(`python -m benchmarks serving`).

It imports nothing of `stock_lstm` on purpose: the floor must not move with the project's
imports. So the forecast's arithmetic (log returns, scaling, model output back to prices, the
pooled conformal bands) is restated here in a few lines; tests/benchmarks/test_minimal_app.py
checks that it answers exactly what the project's forecaster does for the same closes.

    MINIMAL_APP_MODEL_DIR=<dir with the three files> \
        uvicorn --factory benchmarks.minimal_app:app_from_environment
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

MODEL_DIR_ENV = "MINIMAL_APP_MODEL_DIR"
# The file names in that folder: the API's catalog entries onnx_model, scaler_params and
# interval_calibration, saved by the training pipeline.
FILES = {
    "onnx_model": "onnx_model.onnx",
    "scaler_params": "scaler_params.json",
    "interval_calibration": "interval_calibration.json",
}
MIN_VOLATILITY = 1e-4  # the project's floor of the interval scale (ml_models/common/series.py)
DEFAULT_VOL_WINDOW = 20


class PredictRequest(BaseModel):
    prices: list[float]
    horizon: int = 1


class Model:
    """An ONNX Runtime session and the scaler and calibration that turn closes into its input
    and its output into prices with bands."""

    def __init__(
        self, onnx_model: bytes, scaler: Mapping[str, Any], calibration: Mapping[str, Any]
    ) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # as the API's: one request is a tiny graph
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            onnx_model, sess_options=options, providers=["CPUExecutionProvider"]
        )
        [model_input], [model_output] = self.session.get_inputs(), self.session.get_outputs()
        self.input, self.output = model_input.name, model_output.name
        self.window, self.max_horizon = model_input.shape[1], model_output.shape[-1]
        self.mean, self.scale = float(scaler["mean"][0]), float(scaler["scale"][0])
        self.divisors = self.scale * np.sqrt(np.arange(1, self.max_horizon + 1, dtype="float64"))
        self.quantiles = np.asarray(calibration["quantiles"], dtype="float64")
        self.vol_window = min(int(calibration.get("vol_window", DEFAULT_VOL_WINDOW)), self.window)

    def forecast(self, prices: list[float], horizon: int) -> dict[str, list[float]]:
        closes = np.asarray(prices[-(self.window + 1) :], dtype="float64")
        returns = np.diff(np.log(closes))
        batch = ((returns - self.mean) / self.scale).astype("float32").reshape(1, -1, 1)
        output = self.session.run([self.output], {self.input: batch})[0][0]
        close = closes[-1] * np.exp(output.astype("float64") * self.divisors)
        sigma = max(float(returns[-self.vol_window :].std()), MIN_VOLATILITY)
        spread = np.exp(self.quantiles * sigma)
        return {
            "close": close[:horizon].tolist(),
            "lower": (close / spread)[:horizon].tolist(),
            "upper": (close * spread)[:horizon].tolist(),
        }


def create_app(model: Model) -> FastAPI:
    app = FastAPI()
    # async handlers: run on the event loop, no thread hop (as the API's sent-prices path)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    async def predict(request: PredictRequest) -> dict[str, Any]:
        if len(request.prices) <= model.window or not 1 <= request.horizon <= model.max_horizon:
            raise HTTPException(
                422, f"need > {model.window} prices, horizon 1..{model.max_horizon}"
            )
        forecast = model.forecast(request.prices, request.horizon)
        return {
            "horizon": request.horizon,
            "predictions": [
                {"step": step, "close": close, "lower": lower, "upper": upper}
                for step, (close, lower, upper) in enumerate(
                    zip(forecast["close"], forecast["lower"], forecast["upper"], strict=True),
                    start=1,
                )
            ],
        }

    return app


def load_model(folder: Path) -> Model:
    return Model(
        (folder / FILES["onnx_model"]).read_bytes(),
        json.loads((folder / FILES["scaler_params"]).read_text()),
        json.loads((folder / FILES["interval_calibration"]).read_text()),
    )


def app_from_environment() -> FastAPI:
    """uvicorn's `--factory` entry: the model files in the folder MINIMAL_APP_MODEL_DIR."""
    return create_app(load_model(Path(os.environ[MODEL_DIR_ENV])))
