"""backtest: walk-forward evaluation of every model (not part of the default run)."""

from stock_lstm.pipelines.backtest.pipeline import create_pipeline

__all__ = ["create_pipeline"]
