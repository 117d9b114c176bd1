"""ingestion: params:ingestion + raw_prices_tail (the newest stored bars) -> raw_prices +
ingestion_report."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.pipelines.ingestion.nodes import ingest_prices


def create_pipeline(**kwargs) -> Pipeline:
    """One namespace per stage: `kedro airflow create --group-by namespace` runs it as one task."""
    return Pipeline(
        [
            node(
                ingest_prices,
                inputs=["params:ingestion", "raw_prices_tail"],
                outputs=["raw_prices", "ingestion_report"],
                name="ingest_prices",
            )
        ],
        namespace="ingestion",
        prefix_datasets_with_namespace=False,
    )
