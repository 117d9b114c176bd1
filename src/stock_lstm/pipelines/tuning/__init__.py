"""tuning: Optuna search of the forecaster's knobs on validation folds (not in the default run)."""

from stock_lstm.pipelines.tuning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
