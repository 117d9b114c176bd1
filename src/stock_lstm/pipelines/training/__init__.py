"""Training: `features` → `scaler`, `lstm_model`, `training_history`, `interval_calibration`."""

from stock_lstm.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
