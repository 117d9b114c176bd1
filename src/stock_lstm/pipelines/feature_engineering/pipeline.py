"""feature_engineering: clean_prices -> features."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.pipelines.feature_engineering.nodes import build_features


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                build_features,
                inputs="clean_prices",
                outputs="features",
                name="build_features",
                namespace="feature_engineering",
            )
        ]
    )
