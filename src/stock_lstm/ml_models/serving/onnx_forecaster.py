"""The serving forecaster: an ONNX export run by ONNX Runtime, with the scaler's JSON parameters
and the interval calibration. No TensorFlow, Keras or pickle: what the API process loads.

Model-agnostic: any ONNX graph with one input (n, window, n_features) and one output
(n, max_horizon) of the contract in common/forecasting.py (the LSTM, or another model type
exported the same way); window and horizon are read from the graph.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnxruntime

from stock_lstm.ml_models.common.forecasting import Forecaster

# The files a version serves, by catalog name: the ONNX graph's bytes, then JSON documents.
MODEL_FILE, SCALER_FILE, CALIBRATION_FILE = "onnx_model", "scaler_params", "interval_calibration"


class ServingFilesError(ValueError):
    """A version's serving files do not make a working forecaster; the message names the file
    (never where it is stored)."""


class OnnxForecaster(Forecaster):
    """Built once per model version from the `onnx_model`, `scaler_params` and
    `interval_calibration` artifacts; an InferenceSession's `run` is thread-safe."""

    def __init__(
        self,
        onnx_model: bytes,
        scaler_params: Mapping[str, Any],
        calibration: Mapping[str, Any] | None,
        *,
        threads: int = 1,
    ) -> None:
        options = onnxruntime.SessionOptions()
        # One request is a (1, 60, 1) LSTM: thread pools cost more than they save, and each
        # worker process of the API is one unit of parallelism.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            onnx_model, sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(
                f"the ONNX model has {len(inputs)} input(s) and {len(outputs)} output(s); "
                "a forecaster needs one of each"
            )
        window, n_features = (_dimension(d, "input") for d in inputs[0].shape[1:3])
        super().__init__(
            window=window,
            n_features=n_features,
            max_horizon=_dimension(outputs[0].shape[-1], "output"),
            scaler=dict(scaler_params),
            calibration=calibration,
        )
        self._input, self._output = inputs[0].name, outputs[0].name

    def model_output(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self._output], {self._input: batch.astype("float32")})[0]


def _dimension(value: Any, where: str) -> int:
    if not isinstance(value, int):
        raise ValueError(
            f"the ONNX model's {where} has a dynamic size {value!r} where a fixed one is needed"
        )
    return value


def forecaster_from_files(files: Mapping[str, bytes]) -> OnnxForecaster:
    """The forecaster a worker serves, built from a version's files by catalog name, and proven
    by one forecast with bands on a fixed history: a file that parses but cannot forecast
    fails here (ServingFilesError), at load or promotion, never on a request. The registry's
    promotion calls it as its load check (data_pipeline/model_registry.py `LoadCheck`)."""
    scaler = _json(files, SCALER_FILE)
    calibration = _json(files, CALIBRATION_FILE)
    try:
        forecaster = OnnxForecaster(files[MODEL_FILE], scaler, calibration)
    except Exception as error:
        raise ServingFilesError(f"{_culprit(error)}: {type(error).__name__}: {error}") from error
    try:
        forecaster.warm_up()
        history = _fixed_history(forecaster.min_history)
        forecast = forecaster.forecast(history, forecaster.max_horizon)
    except Exception as error:
        raise ServingFilesError(
            f"one forecast on a fixed history failed: {type(error).__name__}: {error}"
        ) from error
    values = np.stack([forecast.lower, forecast.close, forecast.upper])
    if not np.isfinite(values).all() or not (values > 0).all():
        raise ServingFilesError("one forecast on a fixed history is not finite and positive")
    return forecaster


def _json(files: Mapping[str, bytes], name: str) -> Any:
    try:
        return json.loads(files[name])
    except KeyError:
        raise ServingFilesError(f"{name} is missing") from None
    except ValueError as error:
        raise ServingFilesError(f"{name} is not JSON: {error}") from error


def _culprit(error: Exception) -> str:
    """The file an error building the forecaster is about: ONNX Runtime's errors are the
    graph's; the forecasting core names the calibration in its own messages."""
    if type(error).__module__.startswith("onnxruntime"):
        return MODEL_FILE
    text = str(error)
    named = [n for n in (MODEL_FILE, CALIBRATION_FILE, SCALER_FILE) if n in text]
    return " and ".join(named) or f"{SCALER_FILE} or {CALIBRATION_FILE}"


def _fixed_history(length: int) -> np.ndarray:
    """A plausible price path (~100, a small oscillating drift) of `length` closes."""
    steps = 0.01 * np.sin(np.arange(length, dtype="float64"))
    return 100.0 * np.exp(np.cumsum(steps))
