"""Ingestion: prices from Yahoo Finance or a CSV folder into the versioned `raw_prices` table."""

from stock_lstm.pipelines.ingestion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
