"""feature_engineering: clean_prices -> features.

In a run, `clean_prices` gives only the tickers changed since `features` was last derived,
from their first change plus `lookback_rows` earlier rows (the previous close): the lineage
hook and the dataset (catalog.yml) decide which rows are redone, the node only computes.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.ml_models.common.series import add_log_returns


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                add_log_returns,
                inputs="clean_prices",
                outputs="features",
                name="build_features",
            )
        ],
        namespace="feature_engineering",
        prefix_datasets_with_namespace=False,
    )
