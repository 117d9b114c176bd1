"""Helpers shared by benchmark sections: timing statistics, the trained model, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


class BenchmarkSkipped(RuntimeError):
    """A section cannot run here; the message says what to do."""


@dataclass(frozen=True)
class Options:
    requests: int
    concurrency: int
    calls: int


@contextmanager
def postgres_schema(base: str, prefix: str = "bench_") -> Iterator[str]:
    """A URL of `base` whose tables live in a new schema, dropped (and its engines disposed)
    afterwards: a benchmark or test leaves the shared test database as it found it."""
    from sqlalchemy import create_engine, text

    from stock_lstm.data_pipeline.database import dispose_engines

    schema = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def on_both_databases(measure: Callable[[str], dict[str, Any]], name: str) -> dict[str, Any]:
    """`measure(url)` on a temporary SQLite file `<name>.db`, then on a private schema of
    TEST_DATABASE_URL's PostgreSQL (skipped, saying so, when it is unset)."""
    from stock_lstm.data_pipeline.database import dispose_engines

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="stock-lstm-bench-") as tmp:
        try:
            results["sqlite"] = measure(f"sqlite:///{Path(tmp) / f'{name}.db'}")
        finally:
            dispose_engines()
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        with postgres_schema(base) as url:
            results["postgresql"] = measure(url)
    else:
        results["postgresql"] = {"skipped": "TEST_DATABASE_URL unset"}
    return results


def uvicorn_command(port: int, workers: int) -> list[str]:
    """The API as `make serve` starts it, on 127.0.0.1:`port`, quiet but for warnings."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "stock_lstm.api.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def latency_stats(seconds: list[float]) -> dict[str, float]:
    """p50/p90/p99/mean/min in milliseconds of a list of durations in seconds."""
    ms = np.asarray(seconds) * 1000
    return {
        "n": int(ms.size),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p90_ms": round(float(np.percentile(ms, 90)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(statistics.fmean(ms)), 3),
        "min_ms": round(float(ms.min()), 3),
    }


def time_calls(fn: Callable[[], Any], calls: int, warm_up: int = 20) -> list[float]:
    for _ in range(warm_up):
        fn()
    durations = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - started)
    return durations


def machine() -> dict[str, Any]:
    import tensorflow as tf

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
    }


def rss_mb(pid: int) -> dict[str, float]:
    """Resident memory (VmRSS) and its peak (VmHWM) of a process, in MiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)  # kB -> MiB
    return {"rss_mb": fields.get("VmRSS", float("nan")), "peak_rss_mb": fields.get("VmHWM", 0.0)}
