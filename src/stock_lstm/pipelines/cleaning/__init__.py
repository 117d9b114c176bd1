"""Cleaning: `raw_prices` validated and cleaned into `clean_prices`, with a cleaning report."""

from stock_lstm.pipelines.cleaning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
