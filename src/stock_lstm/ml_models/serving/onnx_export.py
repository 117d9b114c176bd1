"""Keras → ONNX for serving, and the proof that the export computes what the Keras model does.

Model-agnostic: any Keras model of the forecasting contract (common/forecasting.py) exports
the same way. Training saves the bytes as the versioned `onnx_model` artifact; evaluation checks
parity on the test windows before the version may become a registry candidate.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.scaling import scale_inputs
from stock_lstm.ml_models.common.series import log_returns, ticker_series
from stock_lstm.ml_models.common.splits import split_dates
from stock_lstm.ml_models.common.windows import histories, window_origins
from stock_lstm.ml_models.serving.onnx_forecaster import OnnxForecaster

if TYPE_CHECKING:
    from keras import Model
else:  # no TensorFlow import for the pipelines naming these nodes (Kedro reads their type hints)
    Model = Any

OPSET = 17


def export_onnx(model: Model) -> bytes:
    """The model as an ONNX graph (Keras 3's own exporter, through tf2onnx), batch size free."""
    # Keras exports only a model that has been called (a freshly loaded one has not).
    model(np.zeros((1, *model.input_shape[1:]), dtype="float32"), training=False)
    with tempfile.TemporaryDirectory(prefix="stock-lstm-onnx-") as folder:
        path = Path(folder) / "model.onnx"
        model.export(str(path), format="onnx", verbose=False, opset_version=OPSET)
        return path.read_bytes()


def test_inputs(
    features: pd.DataFrame, scaler: Any, split: Mapping[str, float], window: int
) -> np.ndarray:
    """The model inputs (n, window, 1) of every test origin of every ticker."""
    cutoffs = split_dates(features, split)
    batches = []
    for series in ticker_series(features).values():
        start, end = cutoffs.bounds(series.dates).rows("test")
        origins = window_origins(start, end, window, 1)
        if origins.size:
            closes = histories(series.closes, origins, window)
            batches.append(scale_inputs(log_returns(closes), scaler))
    if not batches:
        raise InputError(f"no test window of {window} days: nothing to check the ONNX export on")
    return np.concatenate(batches)


def onnx_parity(
    model: Model,
    onnx_model: bytes,
    scaler: Any,
    features: pd.DataFrame,
    split: Mapping[str, float],
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Keras and ONNX Runtime outputs on the test windows: the largest absolute difference,
    whether it is within `params["max_abs_diff"]`, and the ONNX file's sha256."""
    window = int(model.input_shape[1])
    x = test_inputs(features, scaler, split, window)
    keras_out = np.asarray(model(x, training=False), dtype="float64")
    onnx_out = OnnxForecaster(onnx_model, {"mean": [0.0], "scale": [1.0]}, None).model_output(x)
    difference = float(np.max(np.abs(keras_out - np.asarray(onnx_out, dtype="float64"))))
    tolerance = float(params["max_abs_diff"])
    return {
        "max_abs_diff": difference,
        "tolerance": tolerance,
        "passed": bool(difference <= tolerance),
        "n_windows": int(len(x)),
        "onnx_sha256": hashlib.sha256(onnx_model).hexdigest(),
    }
