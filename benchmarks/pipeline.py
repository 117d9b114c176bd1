"""Pipeline wall time per stage: `kedro run --pipelines <stage>` for each stage in data-flow
order, as a user types it, on a temporary copy of the project and a temporary SQLite database
(default parameters, the bundled real snapshot); and seconds per training epoch.

Each stage is its own process, so its wall time includes the start-up (Python, Kedro,
TensorFlow) a user pays too; `kedro_run_s` is Kedro's own "completed in" time of the stage.
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

from benchmarks.common import BenchmarkFailed, Options, project_copy

# Ingestion reads the bundled snapshot, never the network: the figure must not depend on
# Yahoo Finance being reachable (the default `auto` source falls back to the same files).
STAGE_PARAMS = {"ingestion": "ingestion.source=csv"}
STAGE_TIMEOUT_S = 3600
_COMPLETED = re.compile(r"completed\s+(?:\S+\.py:\d+\s+)?successfully in ([\d.]+) sec")
_project_copy = project_copy  # the older name, still imported by benchmarks/backtest.py


def _run_stage(stage: str, root: Path, env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "kedro", "run", "--pipelines", stage]
    if stage in STAGE_PARAMS:
        command += ["--params", STAGE_PARAMS[stage]]
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=STAGE_TIMEOUT_S
    )
    wall = time.perf_counter() - started
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise BenchmarkFailed(
            f"`{' '.join(command[2:])}` failed (exit {completed.returncode}):\n{output[-2000:]}"
        )
    match = _COMPLETED.search(output)
    return {
        "wall_s": round(wall, 2),
        "kedro_run_s": float(match.group(1)) if match else None,
    }


def _training_history(root: Path) -> dict[str, Any]:
    import json

    from stock_lstm.data_pipeline.model_registry import newest_artifact_version

    path = root / "data" / "06_models" / "training_history.json"
    version = newest_artifact_version(path)
    return json.loads((path / version / path.name).read_text())


def _rows(url: str) -> dict[str, int | None]:
    from stock_lstm.data_pipeline import crud
    from stock_lstm.data_pipeline.database import get_database

    rows: dict[str, int | None] = {}
    with get_database(url).session() as session:
        for stage in ("raw", "clean", "features"):
            version = crud.latest_version(session, stage)
            rows[stage] = version.row_count if version is not None else None
    return rows


def run(options: Options | None = None) -> dict[str, Any]:
    """Time every stage once (options are not used: one run of each stage is the figure)."""
    from stock_lstm.data_pipeline.database import dispose_engines
    from stock_lstm.pipeline_registry import PIPELINE_ORDER

    with tempfile.TemporaryDirectory(prefix="stock-lstm-bench-") as tmp:
        root = project_copy(Path(tmp) / "project")
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "STOCK_LSTM_PROJECT_ROOT": str(root),
            "KEDRO_DISABLE_TELEMETRY": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "COLUMNS": "250",  # Kedro's rich log lines unwrapped, for the "completed in" time
        }
        env.pop("KEDRO_ENV", None)  # default parameters: conf/base
        stages = {stage: _run_stage(stage, root, env) for stage in PIPELINE_ORDER}
        history = _training_history(root)
        try:
            rows = _rows(url)
        finally:
            dispose_engines()
    epochs = int(history.get("epochs_run") or len(history.get("loss", [])))
    training_s = stages["training"]["wall_s"]
    return {
        "params": "conf/base, ingestion.source=csv (the bundled snapshot)",
        "database": "SQLite, temporary",
        "rows": rows,
        "stages": stages,
        "total_wall_s": round(sum(stage["wall_s"] for stage in stages.values()), 2),
        "training": {
            "epochs_run": epochs,
            "best_epoch": history.get("best_epoch"),
            "n_train_windows": history.get("n_train_windows"),
            "fit_s": history.get("seconds"),
            # measured around model.fit by the training node (no start-up, no data loading)
            "seconds_per_epoch": history.get("seconds_per_epoch"),
            # the whole training stage (start-up, scaler, calibration included) per epoch
            "stage_wall_s_per_epoch": round(training_s / epochs, 2) if epochs else None,
        },
    }
