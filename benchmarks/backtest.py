"""Backtest cost: `make backtest` on the bundled snapshot (or UNIVERSE=all) as a user runs it,
on a temporary copy of the project and a temporary SQLite database: the wall time, and from
the report the seconds per fit of each model and the seconds per fold.

`python -m benchmarks backtest` times the snapshot; BENCH_BACKTEST_UNIVERSE=all times the full
universe (long: run it on purpose).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import BenchmarkSkipped, Options
from benchmarks.pipeline import _project_copy

TIMEOUT_S = 4 * 3600


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    folds = report.get("fold_seconds") or []
    per_model = {
        name: {
            "fits": model.get("fits"),
            "seconds_per_fit": model.get("seconds_per_fit"),
            "fit_seconds": model.get("fit_seconds"),
        }
        for name, model in report["models"].items()
    }
    return {
        "tickers": len(report.get("universe") or []),
        "folds": len(report["folds"]),
        "refit_every": report.get("refit_every"),
        "seeds": {n: m["seeds"] for n, m in report["models"].items() if "seeds" in m},
        "seconds_per_fold": {
            "mean": round(sum(folds) / len(folds), 2) if folds else None,
            "max": max(folds) if folds else None,
            "folds": folds,
        },
        # a network's figure is one seed's fit; its other seeds are fitted as often
        "models": per_model,
    }


def run(options: Options | None = None) -> dict[str, Any]:
    """One backtest run (options are not used)."""
    universe = os.environ.get("BENCH_BACKTEST_UNIVERSE", "snapshot")
    with tempfile.TemporaryDirectory(prefix="stock-lstm-bench-backtest-") as tmp:
        root = _project_copy(Path(tmp) / "project")
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}",
            "STOCK_LSTM_PROJECT_ROOT": str(root),
            "KEDRO_DISABLE_TELEMETRY": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        env.pop("KEDRO_ENV", None)
        command = [
            sys.executable,
            "-m",
            "kedro",
            "run",
            "--pipelines",
            "ingestion,cleaning,feature_engineering,backtest",
            "--params",
            f"ingestion.source=csv,ingestion.universe={universe}",
        ]
        started = time.perf_counter()
        completed = subprocess.run(
            command, cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
        )
        wall = time.perf_counter() - started
        if completed.returncode != 0:
            output = completed.stdout + completed.stderr
            raise BenchmarkSkipped(
                f"backtest failed (exit {completed.returncode}):\n{output[-2000:]}"
            )
        report = json.loads((root / "data" / "08_reporting" / "backtest.json").read_text())
    return {
        "command": f"make backtest UNIVERSE={universe} (ingestion.source=csv)",
        "database": "SQLite, temporary",
        "wall_s": round(wall, 1),
        **_summary(report),
    }
