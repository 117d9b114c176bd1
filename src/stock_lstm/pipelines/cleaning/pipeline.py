"""cleaning: raw_prices -> clean_prices + cleaning_report."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.pipelines.cleaning.nodes import clean


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                clean,
                inputs=["raw_prices", "params:cleaning"],
                outputs=["clean_prices", "cleaning_report"],
                name="clean_prices",
            )
        ]
    )
