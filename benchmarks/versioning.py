"""Versioning at scale: 500 tickers with their full history stored, then one new trading day.

The 500 tickers are relabelled copies of the snapshot's two long real series (^GSPC and MSFT,
250 copies each, their newest 5,001 bars: 2.5 M rows per stage). Their history up to the day
before the last is stored by one `kedro run --pipelines ingestion,cleaning,feature_engineering`
(the seed). Then one new day, from a daily drop folder whose files hold each ticker's newest
20 bars (the stored older bars stay), is timed: rows written per stage, Kedro's
run time and the wall time (with process start-up), the database size before and after; the
same run again (nothing new); and the next day from files holding whole histories (read whole
and diffed). Then the API's path, a single ticker's newest 60 closes
(crud.load_ticker_prices), p50 over `calls`, and one newest full-table load of `clean`.
On a temporary SQLite file, and on PostgreSQL when TEST_DATABASE_URL names one (a private
schema, dropped afterwards).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.common import (
    BenchmarkFailed,
    Options,
    latency_stats,
    on_both_databases,
    project_copy,
    time_calls,
)

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "01_raw" / "snapshot"
SERIES = ("GSPC.csv", "MSFT.csv")
TICKERS = 500
BARS = 5_002  # per ticker: 5,000 stored, then two new days (a daily drop, then whole files)
DAILY_DROP_BARS = 20  # a daily drop file: the newest bars only
STAGES = ("raw", "clean", "features")
PIPELINES = "ingestion,cleaning,feature_engineering"
_COMPLETED = re.compile(r"completed\s+(?:\S+\.py:\d+\s+)?successfully in ([\d.]+) sec")


def _write_relabelled(folder: Path, bars: int, newest: int | None = None) -> None:
    """TICKERS CSV files, each the first `bars` of the newest BARS bars of a snapshot series,
    or only the `newest` of those (a daily drop). The two series end on different days: each
    ticker's new day is its own next bar."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = [pd.read_csv(SNAPSHOT / name).tail(BARS).head(bars) for name in SERIES]
    if newest is not None:
        tables = [table.tail(newest) for table in tables]
    for index in range(TICKERS):
        tables[index % len(tables)].to_csv(folder / f"T{index:03d}.csv", index=False)


def _kedro_run(root: Path, env: dict[str, str], folder: Path) -> dict[str, Any]:
    params = (
        f"ingestion.source=csv,ingestion.csv_dir={folder},ingestion.tickers=all,"
        "ingestion.start=1900-01-01,ingestion.end=null"
    )
    command = [sys.executable, "-m", "kedro", "run", "--pipelines", PIPELINES, "--params", params]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise BenchmarkFailed(f"kedro run failed (exit {completed.returncode}):\n{output[-2000:]}")
    match = _COMPLETED.search(output)
    return {"wall_s": round(wall, 2), "kedro_run_s": float(match.group(1)) if match else None}


def _database_mb(url: str) -> float:
    from sqlalchemy import text

    from stock_lstm.data_pipeline.database import get_database

    engine = get_database(url).engine
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
            size = connection.exec_driver_sql("PRAGMA page_size").scalar_one()
            return round(pages * size / 2**20, 1)
        query = text(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        )
        return round(float(connection.execute(query).scalar_one()) / 2**20, 1)


def _ticker_prices(database: Any, ticker: str, limit: int) -> Any:
    """One API-style read: a session of its own, as each request opens one."""
    from stock_lstm.data_pipeline import crud

    with database.session() as session:
        return crud.load_ticker_prices(session, ticker, limit=limit)


def _measure(url: str, calls: int) -> dict[str, Any]:
    from stock_lstm.data_pipeline import crud
    from stock_lstm.data_pipeline.database import dispose_engines, get_database

    def latest() -> dict[str, crud.VersionInfo | None]:
        with get_database(url).session() as session:
            return {stage: crud.latest_version(session, stage) for stage in STAGES}

    get_database(url).migrate()  # outside the timed region
    with tempfile.TemporaryDirectory(prefix="stock-lstm-versioning-") as tmp:
        root = project_copy(Path(tmp) / "project")
        folder, drop = Path(tmp) / "relabelled", Path(tmp) / "daily_drop"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "STOCK_LSTM_PROJECT_ROOT": str(root),
            "KEDRO_DISABLE_TELEMETRY": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "COLUMNS": "250",
        }
        env.pop("KEDRO_ENV", None)
        _write_relabelled(folder, BARS - 2)
        seed = _kedro_run(root, env, folder)
        dispose_engines()
        before = latest()
        size_before = _database_mb(url)
        dispose_engines()
        _write_relabelled(drop, BARS - 1, newest=DAILY_DROP_BARS)  # one new bar per ticker
        daily = _kedro_run(root, env, drop)
        dispose_engines()
        after = latest()
        size_after = _database_mb(url)
        rerun = _kedro_run(root, env, drop)
        unchanged = all(version.id == after[stage].id for stage, version in latest().items())
        _write_relabelled(folder, BARS)  # the next day, from files holding whole histories
        whole_files = _kedro_run(root, env, folder)
        dispose_engines()
        last = latest()
        whole_files["rows_added"] = {s: last[s].rows_added for s in STAGES}
    database = get_database(url)
    with database.session() as session:
        changed = {s: len(crud.ticker_changes(session, after[s].id)) for s in STAGES}
    written = {}
    for stage in STAGES:
        if after[stage].id == before[stage].id:
            raise BenchmarkFailed(f"the new day wrote no {stage} version")
        written[stage] = {
            "rows_added": after[stage].rows_added,
            "rows_closed": after[stage].rows_closed,
            "tickers_changed": changed[stage],
            "rows_in_table": after[stage].row_count,
        }
    single = time_calls(lambda: _ticker_prices(database, "T123", 60), calls)
    started = time.perf_counter()
    with database.session() as session:
        table = crud.load_stage_frame(session, "clean")
    full_load_s = time.perf_counter() - started
    return {
        "tickers": TICKERS,
        "rows_stored_per_stage_before": before["clean"].row_count,
        "seed_full_history": seed,
        "one_new_day": {**daily, "written": written},
        "rerun_unchanged": {**rerun, "wrote_nothing": unchanged},
        "next_day_from_whole_history_files": whole_files,
        "database_mb": {"before": size_before, "after": size_after},
        "single_ticker_newest_60": latency_stats(single),
        "newest_full_clean_load": {"rows": len(table), "seconds": round(full_load_s, 2)},
    }


def run(options: Options | None = None) -> dict[str, Any]:
    calls = options.calls if options is not None else 1000
    results: dict[str, Any] = {
        "data": (
            f"{TICKERS} tickers, relabelled copies of the snapshot's ^GSPC and MSFT series "
            f"(their newest {BARS} bars each: {BARS - 2} stored, then two new days)"
        ),
        "targets": "one new day: <= 500 rows per stage, <= 15 s ingestion->features on SQLite; "
        "single-ticker load p50 <= 10 ms",
    }
    return {**results, **on_both_databases(lambda url: _measure(url, calls), "versioning")}
