"""evaluation: model + test split -> evaluation_report, backtest plots, model_versions row."""

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
                    "lstm_model_version",
                    "params:training.split",
                    "params:evaluation",
                ],
                outputs=["evaluation_report", "backtest_plots", "backtest_overview"],
                name="evaluate_model",
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
            ),
        ]
    )
