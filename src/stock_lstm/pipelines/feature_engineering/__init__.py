"""Feature engineering: `clean_prices` → `features` (log returns), a new versioned table."""

from stock_lstm.pipelines.feature_engineering.pipeline import create_pipeline

__all__ = ["create_pipeline"]
