"""Glue between the `ingestion.*` parameters and the price sources.

This node is the project's boundary with the outside world: it is the one node that reads a
source (network or files), because what to read comes from run-time parameters.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import pandas as pd

from stock_lstm.data_pipeline.cleaning import drop_duplicate_dates
from stock_lstm.data_pipeline.sources import fetch_prices

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestionParams:
    """conf/base/parameters_ingestion.yml; Kedro builds it from `params:ingestion`."""

    source: str = "auto"
    tickers: list[str] | str | None = None
    start: str | None = "2005-01-01"
    end: str | None = None
    csv_dir: str = "data/01_raw/snapshot"
    yfinance_timeout: float = 10.0


def ingest_prices(params: IngestionParams) -> pd.DataFrame:
    """Raw bars of every ticker, one per (ticker, date), labelled with the source used.

    raw_prices is keyed by (version, ticker, date), so a source's repeated dates cannot be
    stored as they came: the last row of each date is kept (cleaning's one dedupe) and a
    WARNING counts the others.
    """
    prices = fetch_prices(**dataclasses.asdict(params))
    label = prices.attrs["source"]
    prices, duplicates = drop_duplicate_dates(prices)
    if duplicates:
        logger.warning(
            "repeated dates in the source, kept the last row of each: %s",
            ", ".join(f"{ticker} {n} row(s)" for ticker, n in duplicates.items()),
        )
    prices.attrs = {"source": label}
    logger.info(
        "ingested %d rows of %d ticker(s) from %s", len(prices), prices["ticker"].nunique(), label
    )
    return prices
