"""Tuning throughput: `make tune WORKERS=n` on the bundled snapshot as a user runs it, with the
study in PostgreSQL (a private schema of TEST_DATABASE_URL, dropped afterwards) and the project's
tables there too, once per worker count (1 and 2): trials per minute over the trials' own span
(first start to last end: the Dask cluster's start-up and the data stages left out) and over the
node's wall time, the trials each process ran, and the speed-up of 2 processes.

The trials are the real objective with fewer epochs than conf/base (REDUCED below: per trial
figures scale with epochs and folds); BENCH_TUNING_TRIALS sets the study's n_trials (default 6),
BENCH_TUNING_WORKERS="1 2" the process counts. Each count tunes a study of its own name (in a
schema of its own, dropped afterwards), so no run finds trials of another. Needs TEST_DATABASE_URL (PostgreSQL): the figure is about processes
sharing a study in the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.common import BenchmarkFailed, Options, postgres_schema, project_copy

TIMEOUT_S = 3 * 3600
PIPELINES = "ingestion,cleaning,feature_engineering,tuning"
REDUCED = "training.fit.epochs=3,tuning.folds=2,tuning.timeout_minutes=120"


def _kedro(root: Path, env: dict[str, str], params: str) -> float:
    command = [sys.executable, "-m", "kedro", "run", "--pipelines", PIPELINES, "--params", params]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    if done.returncode != 0:
        raise BenchmarkFailed(
            f"kedro run --params {params} failed (exit {done.returncode}):\n"
            f"{(done.stdout + done.stderr)[-2000:]}"
        )
    return time.perf_counter() - started


def _figures(report: dict[str, Any], wall_s: float) -> dict[str, Any]:
    trials = [t for t in report["trials"] if t["datetime_complete"]]
    starts = [datetime.fromisoformat(t["datetime_start"]) for t in trials]
    ends = [datetime.fromisoformat(t["datetime_complete"]) for t in trials]
    span_s = (max(ends) - min(starts)).total_seconds() if trials else 0.0
    per_trial = [(e - s).total_seconds() for s, e in zip(starts, ends, strict=True)]
    return {
        "trials": len(trials),
        "pruned": report["n_pruned_this_run"],
        "trials_per_process": report["trials_per_process"],
        "trials_span_s": round(span_s, 1),
        "trials_per_minute": round(60 * len(trials) / span_s, 2) if span_s else None,
        "seconds_per_trial_mean": round(sum(per_trial) / len(per_trial), 1) if trials else None,
        "node_s": report["seconds"],
        "trials_per_minute_of_node": round(60 * len(trials) / report["seconds"], 2),
        "kedro_run_wall_s": round(wall_s, 1),
        "best_value": report["best"]["value"],
    }


def run(options: Options | None = None) -> dict[str, Any]:
    """`make tune WORKERS=n` for each n (options are not used)."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        raise BenchmarkFailed(
            "the tuning benchmark needs TEST_DATABASE_URL=postgresql+psycopg://... (make test "
            "sets it to the local PostgreSQL): its figure is processes sharing a study there"
        )
    trials = int(os.environ.get("BENCH_TUNING_TRIALS", "6"))
    counts = [int(n) for n in os.environ.get("BENCH_TUNING_WORKERS", "1 2").split()]
    runs: dict[str, Any] = {}
    study_schema = f"bench_optuna_{uuid.uuid4().hex[:12]}"
    with (
        tempfile.TemporaryDirectory(prefix="stock-lstm-bench-tuning-") as tmp,
        postgres_schema(base, prefix="bench_tune_") as url,
    ):
        root = project_copy(Path(tmp) / "project")
        env = {
            **os.environ,
            "DATABASE_URL": url,  # the project's tables, and the study in `study_schema`
            "STOCK_LSTM_PROJECT_ROOT": str(root),
            "KEDRO_DISABLE_TELEMETRY": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        env.pop("KEDRO_ENV", None)
        env.pop("DASK_SCHEDULER_ADDRESS", None)  # this machine's processes, not a cluster's
        try:
            for workers in counts:
                params = (
                    f"ingestion.source=csv,{REDUCED},tuning.n_trials={trials},"
                    f"tuning.workers={workers},tuning.study_name=bench-w{workers},"
                    f"tuning.storage.schema={study_schema}"
                )
                load_start = os.getloadavg()[0]  # the machine's other work shapes the figures
                wall = _kedro(root, env, params)
                report = json.loads((root / "data" / "08_reporting" / "tuning.json").read_text())
                runs[str(workers)] = {
                    **_figures(report, wall),
                    "load_average_1min": {
                        "start": round(load_start, 2),
                        "end": round(os.getloadavg()[0], 2),
                    },
                }
        finally:
            _drop_schema(base, study_schema)
    out: dict[str, Any] = {
        "command": f"make tune WORKERS=n (ingestion.source=csv, {REDUCED}, n_trials={trials})",
        "database": "PostgreSQL (TEST_DATABASE_URL), private schemas",
        "workers": runs,
        "note": "TPE draws differ between the runs (and with several processes), so the "
        "trials' cost and best value differ too; the speed-up is the trials' rate",
    }
    if "1" in runs and runs["1"]["trials_per_minute"]:
        out["speed_up"] = {
            n: round(r["trials_per_minute"] / runs["1"]["trials_per_minute"], 2)
            for n, r in runs.items()
            if n != "1" and r["trials_per_minute"]
        }
    return out


def _drop_schema(base: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()
