"""Backtest cost: `make backtest` on the bundled snapshot (or UNIVERSE=all) as a user runs it, on
a temporary copy of the project and a temporary SQLite database, once in-process (WORKERS=1)
and once on a local Dask cluster of two worker processes (WORKERS=2): per run the wall time,
the fitting phase's wall time, the peak memory of each worker, and from the report the seconds
per fit of each model and the seconds per fold; then the two-worker speed-up and whether the
two reports agree (they must, but for their seconds).

`python -m benchmarks backtest` times the snapshot with fewer epochs and folds than
conf/base (REDUCED below: the figures are per fit and per fold, so they scale);
BENCH_BACKTEST_FULL=1 runs the parameters as they are, BENCH_BACKTEST_UNIVERSE=all the full
universe (long: run them on purpose), BENCH_BACKTEST_WORKERS="1 2" the worker counts.
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

from benchmarks.common import BenchmarkFailed, Options, project_copy
from stock_lstm.ml_models.common.walk_forward import results_only

TIMEOUT_S = 4 * 3600
DATA_STAGES = "ingestion,cleaning,feature_engineering"
# The default run: the test years 2014-2018 (5 folds; the networks refit in 2014 and 2018),
# 5 epochs; every model and seed of conf/base.
REDUCED = "backtest.first_test_year=2014,training.fit.epochs=5"


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
    fits = sum(m["fits"] or 0 for m in per_model.values())
    fit_seconds = sum(m["fit_seconds"] or 0.0 for m in per_model.values())
    seeds = {n: m["seeds"] for n, m in report["models"].items() if "seeds" in m}
    # a network's figures are one seed's; its other seeds are fitted as often
    all_fits = fits + sum(
        per_model[n]["fits"] * (len(s) - 1) for n, s in seeds.items() if n in per_model
    )
    return {
        "tickers": len(report.get("universe") or []),
        "folds": len(report["folds"]),
        "refit_every": report.get("refit_every"),
        "seeds": seeds,
        "fits": all_fits,
        "run": report.get("run"),
        "seconds_per_fold": {
            "mean": round(sum(folds) / len(folds), 2) if folds else None,
            "max": max(folds) if folds else None,
            "folds": folds,
            "note": "compute seconds (fits, forecasts, scores) summed over workers",
        },
        # over the fits the report times (a network's first seed; its others cost the same)
        "seconds_per_fit_mean": round(fit_seconds / fits, 2) if fits else None,
        "models": per_model,
    }


def _kedro(root: Path, env: dict[str, str], pipelines: str, params: str) -> float:
    command = [sys.executable, "-m", "kedro", "run", "--pipelines", pipelines]
    command += ["--params", params]
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    if completed.returncode != 0:
        output = completed.stdout + completed.stderr
        raise BenchmarkFailed(
            f"{' '.join(command[2:])} failed (exit {completed.returncode}):\n{output[-2000:]}"
        )
    return time.perf_counter() - started


def run(options: Options | None = None) -> dict[str, Any]:
    """The backtest with each worker count (options are not used)."""
    universe = os.environ.get("BENCH_BACKTEST_UNIVERSE", "snapshot")
    full = os.environ.get("BENCH_BACKTEST_FULL") == "1"
    counts = [int(n) for n in os.environ.get("BENCH_BACKTEST_WORKERS", "1 2").split()]
    params = f"ingestion.source=csv,ingestion.universe={universe}"
    backtest_params = params if full else f"{params},{REDUCED}"
    runs: dict[str, Any] = {}
    reports: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="stock-lstm-bench-backtest-") as tmp:
        root = project_copy(Path(tmp) / "project")
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}",
            "STOCK_LSTM_PROJECT_ROOT": str(root),
            "KEDRO_DISABLE_TELEMETRY": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        env.pop("KEDRO_ENV", None)
        env.pop("DASK_SCHEDULER_ADDRESS", None)  # this machine's workers, not a cluster's
        data_s = _kedro(root, env, DATA_STAGES, params)
        for workers in counts:
            wall = _kedro(root, env, "backtest", f"{backtest_params},backtest.workers={workers}")
            report_path = root / "data" / "08_reporting" / "backtest.json"
            reports[workers] = json.loads(report_path.read_text())
            runs[str(workers)] = {"wall_s": round(wall, 1), **_summary(reports[workers])}
    out: dict[str, Any] = {
        "command": f"make backtest UNIVERSE={universe} WORKERS=n (ingestion.source=csv"
        + ("" if full else f", {REDUCED}")
        + ")",
        "reduced": None if full else REDUCED,
        "database": "SQLite, temporary",
        "data_stages_s": round(data_s, 1),
        "workers": runs,
    }
    if 1 in reports and len(reports) > 1:
        one = reports[1]["run"]["wall_seconds"]
        out["fit_phase_speed_up"] = {
            str(n): round(one / r["run"]["wall_seconds"], 2) for n, r in reports.items() if n != 1
        }
        out["agreement_with_one_worker"] = {
            str(n): _agreement(reports[1], r) for n, r in reports.items() if n != 1
        }
    return out


def _agreement(one: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """How far another worker count's report is from one worker's: the baselines should be
    bit-identical; a network fitted in a worker process ends a little apart (docs/scaling.md),
    so its largest relative difference in a fold's MAE is given instead of a yes/no."""
    first, second = results_only(one), results_only(other)
    baselines = sorted(other.get("baselines", []))
    largest = 0.0
    for network in ("lstm", "gru"):
        for ticker, by_step in first["models"].get(network, {}).get("tickers", {}).items():
            for step, cell in by_step.items():
                if not (isinstance(cell, dict) and "mae" in cell):
                    continue
                theirs = second["models"][network]["tickers"][ticker][step]["mae"]["folds"]
                for a, b in zip(cell["mae"]["folds"], theirs, strict=True):
                    largest = max(largest, abs(b - a) / abs(a)) if a else largest
    return {
        # floats compared as JSON text: equal means bit-identical
        "baselines_bit_identical": all(
            json.dumps(first["models"][m], sort_keys=True)
            == json.dumps(second["models"][m], sort_keys=True)
            for m in baselines
        ),
        "networks_max_relative_mae_difference": float(f"{largest:.2g}"),
    }
