"""evaluation: model + test split -> evaluation_report, backtest plots, and the registry row.

The model version evaluated is the one interval_calibration records; evaluate_model refuses a
model, scaler or features version that is not of that training run (check_same_run). The
ONNX export must compute what the Keras model computes (onnx_parity) for the version to be
registered as a candidate; `evaluation.promote` decides whether it becomes the champion.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.ml_models.recurrent.evaluate import evaluate_model
from stock_lstm.ml_models.serving.model_comparison import compare_with_champion
from stock_lstm.ml_models.serving.onnx_export import onnx_parity
from stock_lstm.pipelines.evaluation.nodes import registry_entry


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                evaluate_model,
                inputs=[
                    "lstm_model",
                    "scaler",
                    "interval_calibration",
                    "features",
                    "params:training.split",
                    "params:evaluation",
                ],
                outputs=["evaluation_report", "backtest_plots", "backtest_overview"],
                name="evaluate_model",
            ),
            node(
                onnx_parity,
                inputs=[
                    "lstm_model",
                    "onnx_model",
                    "scaler",
                    "features",
                    "params:training.split",
                    "params:evaluation.onnx_parity",
                ],
                outputs="onnx_parity",
                name="check_onnx_parity",
            ),
            node(
                compare_with_champion,
                inputs=[
                    "onnx_model",
                    "scaler_params",
                    "registry_champion",
                    "features",
                    "params:training.split",
                ],
                outputs="champion_comparison",
                name="compare_with_champion",
            ),
            node(
                registry_entry,
                inputs=[
                    "evaluation_report",
                    "interval_calibration",
                    "training_history",
                    "params:training",
                    "onnx_parity",
                    "champion_comparison",
                    "params:evaluation.promote",
                ],
                outputs="model_version_record",
                name="record_model_version",
            ),
        ],
        namespace="evaluation",
        prefix_datasets_with_namespace=False,
    )
