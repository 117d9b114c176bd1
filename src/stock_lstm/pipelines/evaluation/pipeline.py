"""evaluation: model + test split -> evaluation_report, backtest plots, model_versions row.

The model version evaluated is the one interval_calibration records; evaluate_model refuses a
model, scaler or features version that is not of that training run (check_same_run).
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.ml_models.lstm_model.evaluate import evaluate_model, model_version_record


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
                namespace="evaluation",
            ),
            node(
                model_version_record,
                inputs=[
                    "evaluation_report",
                    "interval_calibration",
                    "training_history",
                    "params:training",
                ],
                outputs="model_version_record",
                name="record_model_version",
                namespace="evaluation",
            ),
        ]
    )
