"""The daily loop: one `python -m stock_lstm.cli.daily` (what `make daily` runs) on the bundled
snapshot, as a user types it (own process: start-up included), with no retrain.

On a temporary project copy and SQLite file: the 3 tickers from 2005 (the default
`ingestion.start`) up to 2013-02-27, a tiny champion trained on them (env "test", untimed),
and one daily run for 2013-02-28 (untimed: the first monitoring run). Timed: the daily run of
the next day, 2013-03-01 (one new bar per ticker: ingestion, cleaning, features, monitoring,
no retrain), then the same day again (no new bar: nothing stored, monitoring skipped).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import BenchmarkFailed, Options, project_copy

START = "2005-01-01"
TRAINED_THROUGH = "2013-02-27"
DAYS = ("2013-02-28", "2013-03-01")


def _daily(root: Path, env: dict[str, str], end: str) -> tuple[float, str]:
    command = [sys.executable, "-m", "stock_lstm.cli.daily", "--env", "test", "--params"]
    command.append(f"ingestion.source=csv,ingestion.start={START},ingestion.end={end}")
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=900
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise BenchmarkFailed(
            f"`{' '.join(command[1:])}` failed:\n{(completed.stdout + completed.stderr)[-2000:]}"
        )
    return wall, completed.stdout


def run(options: Options) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        root = project_copy(Path(folder) / "project")
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{root / 'data' / 'daily.db'}",
            "STOCK_LSTM_PROJECT_ROOT": str(root),
            "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'data' / 'mlflow.db'}",
            "KEDRO_DISABLE_TELEMETRY": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        train = [sys.executable, "-m", "kedro", "run", "--env", "test", "--params"]
        train.append(f"ingestion.start={START},ingestion.end={TRAINED_THROUGH}")
        completed = subprocess.run(
            train, cwd=root, env=env, capture_output=True, text=True, timeout=1800
        )
        if completed.returncode != 0:
            raise BenchmarkFailed(f"training the champion failed:\n{completed.stderr[-2000:]}")
        _daily(root, env, DAYS[0])
        new_bar_s, new_bar_out = _daily(root, env, DAYS[1])
        no_bar_s, no_bar_out = _daily(root, env, DAYS[1])
    if "retrain: False" not in new_bar_out or "monitored: True" not in new_bar_out:
        raise BenchmarkFailed(
            f"the timed day was not a monitored day without retrain:\n{new_bar_out}"
        )
    if "monitored: False" not in no_bar_out:
        raise BenchmarkFailed(f"the rerun monitored again:\n{no_bar_out}")
    return {
        "tickers": 3,
        "history_from": START,
        "day": DAYS[1],
        "daily_new_bar_no_retrain_s": round(new_bar_s, 2),
        "daily_no_new_bar_s": round(no_bar_s, 2),
        "target_s": 10,
    }
