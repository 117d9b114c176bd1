"""feature_engineering on an in-memory catalog: log returns; the node leaves lineage alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from stock_lstm.pipelines.feature_engineering import create_pipeline


def test_features_are_log_returns_of_clean_closes() -> None:
    clean = pd.DataFrame(
        {
            "ticker": ["MSFT", "MSFT", "MSFT", "GOOG", "GOOG"],
            "date": pd.to_datetime(
                ["2020-01-02", "2020-01-03", "2020-01-06"] * 1 + ["2020-01-02", "2020-01-03"]
            ),
            "open": 1.0,
            "high": 1.0,
            "low": 1.0,
            "close": [10.0, 11.0, 12.1, 100.0, 50.0],
            "adj_close": [5.0, 5.0, 5.0, 50.0, 50.0],  # never used: the API forecasts from close
            "volume": pd.array([1, 2, 3, 4, 5], dtype="Int64"),
        }
    )
    clean.attrs.update(version_id=7, stage="clean")
    features = MemoryDataset(copy_mode="assign")
    catalog = DataCatalog(
        {
            "clean_prices": MemoryDataset(clean, copy_mode="assign"),
            "features": features,
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)
    out = features.load()
    assert list(out.columns) == ["ticker", "date", "close", "log_return"]
    assert out["ticker"].tolist() == ["GOOG", "GOOG", "MSFT", "MSFT", "MSFT"]
    np.testing.assert_allclose(
        out["log_return"].to_numpy()[[1, 3, 4]], [np.log(0.5), np.log(1.1), np.log(1.1)]
    )
    assert out["log_return"].isna().tolist() == [True, False, True, False, False]
    assert "parent_version_id" not in out.attrs  # lineage is the hook's business
