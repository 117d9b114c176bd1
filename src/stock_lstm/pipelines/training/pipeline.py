"""training: features -> scaler (train rows only) -> lstm_model -> interval_calibration.

The calibration is computed here because validation is a training-time split; evaluation
only reads it and applies it to test.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.ml_models.lstm_model.evaluate import calibrate_intervals
from stock_lstm.ml_models.lstm_model.preprocess import fit_scaler
from stock_lstm.ml_models.lstm_model.train import train_lstm


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
                train_lstm,
                inputs=["features", "scaler", "params:training"],
                outputs=["lstm_model", "training_history"],
                name="train_lstm",
            ),
            node(
                calibrate_intervals,
                inputs=["lstm_model", "scaler", "features", "params:training"],
                outputs="interval_calibration",
                name="calibrate_intervals",
            ),
        ]
    )
