"""What turns a trained network into what the API runs: the ONNX export and its parity check
(onnx_export.py, needs Keras), the ONNX Runtime forecaster (onnx_forecaster.py, TensorFlow-free:
the API imports it) and the champion comparison on ONNX Runtime (model_comparison.py)."""
