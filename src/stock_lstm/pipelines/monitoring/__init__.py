"""The monitoring pipeline: one day of checking the champion against what happened."""

from stock_lstm.pipelines.monitoring.pipeline import create_pipeline

__all__ = ["create_pipeline"]
