"""Glue between the clean table and the features table: lineage attributes for the save."""

from __future__ import annotations

import pandas as pd

from stock_lstm.ml_models.lstm_model.preprocess import add_log_returns


def build_features(clean_prices: pd.DataFrame) -> pd.DataFrame:
    """Log returns of the clean closes (never adj_close: the API forecasts from close, see
    add_log_returns); the features version records the clean one as parent."""
    features = add_log_returns(clean_prices)
    features.attrs["source"] = "feature_engineering: log returns of close"
    if clean_prices.attrs.get("version_id") is not None:
        features.attrs["parent_version_id"] = clean_prices.attrs["version_id"]
    return features
