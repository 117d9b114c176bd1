"""A fixed, non-naive forecaster as ONNX bytes, built without TensorFlow: output = flattened
scaled window @ weights + bias, one column per step."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def fixed_onnx(weights: np.ndarray, bias: np.ndarray) -> bytes:
    """weights (window, horizon), bias (horizon,): input (n, window, 1), output (n, horizon)."""
    window, horizon = weights.shape
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["x", "shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "weights"], ["product"]),
            helper.make_node("Add", ["product", "bias"], ["y"]),
        ],
        "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", window, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", horizon])],
        [
            numpy_helper.from_array(np.array([-1, window], dtype="int64"), "shape"),
            numpy_helper.from_array(weights.astype("float32"), "weights"),
            numpy_helper.from_array(bias.astype("float32"), "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()
