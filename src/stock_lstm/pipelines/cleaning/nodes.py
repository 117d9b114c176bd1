"""Glue between the `cleaning.*` parameters, the cleaning rules and the reports."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from stock_lstm.data_pipeline.cleaning import CleaningParams, clean_prices

logger = logging.getLogger(__name__)


def clean(
    raw_prices: pd.DataFrame, ingestion_report: dict[str, Any], params: CleaningParams
) -> tuple[pd.DataFrame, dict]:
    """Clean bars and the report: what ingestion repaired (raw_prices cannot remember it) and
    what cleaning dropped. In a run, `raw_prices` holds the whole history of the tickers whose
    raw rows changed since clean_prices was last derived (the lineage hook asks for them and
    adds the raw version read to the report)."""
    cleaned, report = clean_prices(raw_prices, params)
    report = {"ingestion": ingestion_report, **report}
    logger.info("cleaning report: %s", summary(report))
    return cleaned, report


def summary(report: dict[str, Any]) -> str:
    """One log line: rows in/out, what each rule dropped, how many long gaps."""
    ingestion = report["ingestion"].get("tickers", {})
    repaired = [
        f"{what} {', '.join(f'{t}={c.get(what, 0)}' for t, c in ingestion.items())}"
        for what in ("duplicate_dates_dropped", "out_of_order_rows_sorted")
        if any(c.get(what) for c in ingestion.values())
    ]
    dropped = [
        f"{rule} {', '.join(f'{t}={n}' for t, n in by.items())}"
        for rule, by in report["dropped"].items()
        if by
    ]
    gaps = sum(len(found) for found in report["gaps"].values())
    close_only = report.get("close_only_bars") or {}
    skipped = ", ".join(report.get("rules_skipped_for_close_only") or [])
    return (
        f"ingestion repaired: {'; '.join(repaired) or 'nothing'}; "
        f"{report['rows_in']} rows in, {report['rows_out']} out; dropped: "
        f"{'; '.join(dropped) or 'none'}; gaps > {report['parameters']['max_gap_days']} days: "
        f"{gaps}; close-only bars: {sum(close_only.values())}"
        + (f" ({skipped} skipped for them)" if close_only else "")
    )
