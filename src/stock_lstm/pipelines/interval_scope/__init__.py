"""interval_scope: which interval calibration scope covers best, judged on the development
period only (not in the default run)."""

from stock_lstm.pipelines.interval_scope.pipeline import create_pipeline

__all__ = ["create_pipeline"]
