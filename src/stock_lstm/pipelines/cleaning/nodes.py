"""Glue between the `cleaning.*` parameters, the cleaning rules and the catalog's lineage attrs."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from stock_lstm.data_pipeline.cleaning import CleaningParams, clean_prices

logger = logging.getLogger(__name__)


def clean(
    raw_prices: pd.DataFrame, ingestion_report: dict[str, Any], params: CleaningParams
) -> tuple[pd.DataFrame, dict]:
    """Clean bars whose data version records the raw version they came from, and the report:
    what ingestion repaired (raw_prices cannot remember it) and what cleaning dropped."""
    cleaned, report = clean_prices(raw_prices, params)
    raw_version = raw_prices.attrs.get("version_id")
    cleaned.attrs = {"source": "cleaning", "parent_version_id": raw_version}
    ingestion, note = ingestion_of(raw_prices, ingestion_report)
    report = {
        "raw_version_id": raw_version,
        "raw_source": raw_prices.attrs.get("source"),
        "ingestion": ingestion,
        **({"ingestion_note": note} if note else {}),
        **report,
    }
    logger.info("cleaning report: %s", summary(report))
    return cleaned, report


def ingestion_of(
    raw_prices: pd.DataFrame, ingestion_report: dict[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """The ingestion report when it describes these raw prices (same source, same rows per
    ticker); else None and why (e.g. raw_prices pinned with --load-versions to an older run)."""
    stored = {t: c.get("rows_stored") for t, c in ingestion_report.get("tickers", {}).items()}
    rows = {str(t): int(n) for t, n in raw_prices.groupby("ticker").size().items()}
    source = raw_prices.attrs.get("source")
    if stored == rows and source in (None, ingestion_report.get("source")):
        return ingestion_report, None
    note = (
        f"the ingestion report describes other raw prices ({ingestion_report.get('source')}, "
        f"{sum(n or 0 for n in stored.values())} rows) than raw version "
        f"{raw_prices.attrs.get('version_id')} ({source}, {len(raw_prices)} rows): the "
        "source's repeated and out-of-order dates are unknown"
    )
    logger.warning("%s", note)
    return None, note


def summary(report: dict[str, Any]) -> str:
    """One log line: rows in/out, what each rule dropped, how many long gaps."""
    repaired = [
        f"{what} {', '.join(f'{t}={c[what]}' for t, c in report['ingestion']['tickers'].items())}"
        for what in ("duplicate_dates_dropped", "out_of_order_rows_sorted")
        if report["ingestion"] and any(c[what] for c in report["ingestion"]["tickers"].values())
    ]
    dropped = [
        f"{rule} {', '.join(f'{t}={n}' for t, n in by.items())}"
        for rule, by in report["dropped"].items()
        if by
    ]
    gaps = sum(len(found) for found in report["gaps"].values())
    return (
        f"ingestion repaired: {'; '.join(repaired) or 'nothing'}; "
        f"{report['rows_in']} rows in, {report['rows_out']} out; dropped: "
        f"{'; '.join(dropped) or 'none'}; gaps > {report['parameters']['max_gap_days']} days: "
        f"{gaps}"
    )
