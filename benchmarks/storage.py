"""Storage: store and load the whole bundled snapshot (~15k rows) as one raw version.

On a temporary SQLite file, and on PostgreSQL when TEST_DATABASE_URL names one (a private
schema, dropped afterwards): the figures behind "ingesting ~15k rows takes seconds".
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import Options, on_both_databases

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "01_raw" / "snapshot"


def _measure(frame, url: str) -> dict[str, Any]:
    from stock_lstm.data_pipeline import crud
    from stock_lstm.data_pipeline.database import get_database

    database = get_database(url)
    database.migrate()  # outside the timed region
    started = time.perf_counter()
    with database.session() as session:
        saved = crud.save_stage_frame(session, frame, "raw", source="bench")
    save_s = time.perf_counter() - started
    started = time.perf_counter()
    with database.session() as session:
        loaded = crud.load_stage_frame(session, "raw")
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    with database.session() as session:
        again = crud.save_stage_frame(session, loaded, "raw", source="bench")
    unchanged_s = time.perf_counter() - started
    assert saved.created and not again.created and len(loaded) == len(frame)
    return {
        "rows": len(frame),
        "save_s": round(save_s, 3),
        "load_s": round(load_s, 3),
        "resave_unchanged_s": round(unchanged_s, 3),
    }


def run(options: Options | None = None) -> dict[str, Any]:
    """Read the snapshot from its first bar (not from ingestion.start), then store and load it."""
    from stock_lstm.data_pipeline.sources import fetch_prices

    started = time.perf_counter()
    frame = fetch_prices("csv", "all", start="1900-01-01", csv_dir=SNAPSHOT)
    results: dict[str, Any] = {"read_csv_s": round(time.perf_counter() - started, 3)}
    return {**results, **on_both_databases(lambda url: _measure(frame, url), "storage")}
