"""Glue between the clean table and the features table: lineage attributes for the save."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from stock_lstm.ml_models.lstm_model.preprocess import add_log_returns


def build_features(clean_prices: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """Log returns from the clean closes; the features version records the clean one as parent."""
    features = add_log_returns(clean_prices, price_column=str(params["price_column"]))
    features.attrs["source"] = f"feature_engineering: log returns of {params['price_column']}"
    if clean_prices.attrs.get("version_id") is not None:
        features.attrs["parent_version_id"] = clean_prices.attrs["version_id"]
    return features
