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
    overlap_days: int = 10
    # snapshot (csv_dir), sp500_20 or all (csv_dir, then every bundled folder; first wins)
    universe: str = "snapshot"
    universes: dict[str, list[str]] | None = None


def ingest_prices(
    params: IngestionParams, stored_raw_tail: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Raw bars of every ticker, one per (ticker, date), labelled with the source used; and the
    ingestion report: per ticker, its source, what was fetched, the rows it gave and kept, and
    the repairs (the lineage hook adds what the save changed: new, restated, removed bars).

    From Yahoo, a ticker already stored is asked only for its bars from the newest
    `overlap_days` of `stored_raw_tail` on; a CSV file is read whole. Either way the raw_prices
    save stores only what differs from the stored rows, and keeps every stored bar outside the
    requested range or missing from the source (only `remove-ticker` drops bars).

    raw_prices is keyed by (version, ticker, date) and gives its rows back sorted, so a source's
    repeated or out-of-order dates cannot be stored as they came: they are repaired here (the
    last row of each date is kept) and only this report remembers them.
    """
    fetched = fetch_prices(**dataclasses.asdict(params), stored=stored_raw_tail)
    label, used, asked = (fetched.attrs[k] for k in ("source", "ticker_sources", "fetched"))
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
        # the raw save never closes a stored bar that was not fetched (VersionedTableDataset)
        "outside_requested_range": "kept",
        "tickers": {
            ticker: {
                "source": used[ticker],
                "fetched": asked[ticker],
                "rows_from_source": int(given[ticker]),
                "duplicate_dates_dropped": duplicates.get(ticker, 0),
                "out_of_order_rows_sorted": repairs["out_of_order_rows_sorted"].get(ticker, 0),
                "rows_stored": int(stored[ticker]),
            }
            for ticker in used
        },
    }
    logger.info(
        "ingested %d rows of %d ticker(s) from %s; stored bars outside the requested range: kept",
        len(prices),
        prices["ticker"].nunique(),
        label,
    )
    return prices, report
