"""training: features -> scaler (train rows only) -> lstm_model -> interval_calibration, and
what the API serves: the model exported to ONNX (onnx_model) and the scaler as JSON
(scaler_params), under the same save version.

`training.model_type` (lstm | gru) chooses the architecture; the catalog entry stays
`lstm_model` whatever the type (stored versions keep loading), and the history records it.

The calibration is computed here because validation is a training-time split; evaluation
only reads it and applies it to test. `model_save_version` is this run's Kedro save version:
the history and the calibration record it, so evaluation knows which version it evaluates.
Every node is in the `training` namespace: kedro-airflow `--group-by namespace` runs them as
one task (one session), so the artifacts share one save version.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.ml_models.common.scaling import fit_scaler, scaler_parameters
from stock_lstm.ml_models.recurrent.calibration import calibrate_intervals
from stock_lstm.ml_models.recurrent.keras_training import train_model
from stock_lstm.ml_models.serving.onnx_export import export_onnx


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                fit_scaler,
                inputs=["features", "params:training.split"],
                outputs="scaler",
                name="fit_scaler",
            ),
            node(
                train_model,
                inputs=["features", "scaler", "params:training", "model_save_version"],
                outputs=["lstm_model", "training_history"],
                name="train_model",
            ),
            node(
                calibrate_intervals,
                inputs=[
                    "lstm_model",
                    "scaler",
                    "features",
                    "params:training",
                    "model_save_version",
                ],
                outputs="interval_calibration",
                name="calibrate_intervals",
            ),
            node(
                export_onnx,
                inputs="lstm_model",
                outputs="onnx_model",
                name="export_onnx",
            ),
            node(
                scaler_parameters,
                inputs="scaler",
                outputs="scaler_params",
                name="export_scaler_params",
            ),
        ],
        namespace="training",
        prefix_datasets_with_namespace=False,
    )
