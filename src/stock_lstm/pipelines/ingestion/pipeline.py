"""ingestion: params:ingestion -> raw_prices."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.pipelines.ingestion.nodes import ingest_prices


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [node(ingest_prices, inputs="params:ingestion", outputs="raw_prices", name="ingest_prices")]
    )
