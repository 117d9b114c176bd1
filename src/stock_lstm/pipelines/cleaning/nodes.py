"""Glue between the `cleaning.*` parameters, the cleaning rules and the catalog's lineage attrs."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from stock_lstm.data_pipeline.cleaning import CleaningParams, clean_prices

logger = logging.getLogger(__name__)


def clean(raw_prices: pd.DataFrame, params: CleaningParams) -> tuple[pd.DataFrame, dict]:
    """Clean bars whose data version records the raw version they came from, and the report."""
    cleaned, report = clean_prices(raw_prices, params)
    raw_version = raw_prices.attrs.get("version_id")
    cleaned.attrs = {"source": "cleaning", "parent_version_id": raw_version}
    report = {"raw_version_id": raw_version, "raw_source": raw_prices.attrs.get("source"), **report}
    logger.info("cleaning report: %s", summary(report))
    return cleaned, report


def summary(report: dict[str, Any]) -> str:
    """One log line: rows in/out, what each rule dropped, how many long gaps."""
    dropped = [
        f"{rule} {', '.join(f'{t}={n}' for t, n in by.items())}"
        for rule, by in report["dropped"].items()
        if by
    ]
    gaps = sum(len(found) for found in report["gaps"].values())
    return (
        f"{report['rows_in']} rows in, {report['rows_out']} out; dropped: "
        f"{'; '.join(dropped) or 'none'}; gaps > {report['parameters']['max_gap_days']} days: "
        f"{gaps}"
    )
