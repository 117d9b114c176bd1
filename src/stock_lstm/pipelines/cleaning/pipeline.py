"""cleaning: raw_prices + ingestion_report -> clean_prices + cleaning_report."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.pipelines.cleaning.nodes import clean


def create_pipeline(**kwargs) -> Pipeline:
    """One namespace per stage: `kedro airflow create --group-by namespace` runs it as one task."""
    return Pipeline(
        [
            node(
                clean,
                inputs=["raw_prices", "ingestion_report", "params:cleaning"],
                outputs=["clean_prices", "cleaning_report"],
                name="clean_prices",
            )
        ],
        namespace="cleaning",
        prefix_datasets_with_namespace=False,
    )
