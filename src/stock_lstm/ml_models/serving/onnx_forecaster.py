"""The serving forecaster: an ONNX export run by ONNX Runtime, with the scaler's JSON parameters
and the interval calibration. No TensorFlow, Keras or pickle: what the API process loads.

Model-agnostic: any ONNX graph with one input (n, window, n_features) and one output
(n, max_horizon) of the contract in common/forecasting.py (the LSTM, or another model type
exported the same way); window and horizon are read from the graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnxruntime

from stock_lstm.ml_models.common.forecasting import Forecaster


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
