"""Glue between the `ingestion.*` parameters and the price sources.

This node is the project's boundary with the outside world: it is the one node that reads a
source (network or files), because what to read comes from run-time parameters.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from stock_lstm.data_pipeline.cleaning import repair_order
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


def ingest_prices(params: IngestionParams) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Raw bars of every ticker, one per (ticker, date), labelled with the source used; and the
    ingestion report: per ticker, its source, the rows it gave and stored, and the repairs.

    raw_prices is keyed by (version, ticker, date) and gives its rows back sorted, so a source's
    repeated or out-of-order dates cannot be stored as they came: they are repaired here (the
    last row of each date is kept) and only this report remembers them.
    """
    fetched = fetch_prices(**dataclasses.asdict(params))
    label, used = fetched.attrs["source"], fetched.attrs["ticker_sources"]
    given = fetched.groupby("ticker", sort=False).size()
    prices, repairs = repair_order(fetched)
    duplicates = repairs["duplicate_dates_dropped"]
    if duplicates:
        logger.warning(
            "repeated dates in the source, kept the last row of each: %s",
            ", ".join(f"{ticker} {n} row(s)" for ticker, n in duplicates.items()),
        )
    stored = prices.groupby("ticker", sort=False).size()
    report = {
        "source": label,
        "rows": len(prices),
        "tickers": {
            ticker: {
                "source": used[ticker],
                "rows_from_source": int(given[ticker]),
                "duplicate_dates_dropped": duplicates.get(ticker, 0),
                "out_of_order_rows_sorted": repairs["out_of_order_rows_sorted"].get(ticker, 0),
                "rows_stored": int(stored[ticker]),
            }
            for ticker in used
        },
    }
    prices.attrs = {"source": label}
    logger.info(
        "ingested %d rows of %d ticker(s) from %s", len(prices), prices["ticker"].nunique(), label
    )
    return prices, report
