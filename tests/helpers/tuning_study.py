"""Processes adding trials to one stored study, for tests/pipelines/tuning/test_shared_study.py:
in a module of its own that imports no TensorFlow, because each spawned process imports it."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Mapping
from typing import Any

import optuna

from stock_lstm.data_pipeline.tuning_study import StudyStorage, add_trials, open_study


def quick(trial: optuna.Trial) -> float:
    """An objective without training: many trials ending close together stress the count."""
    x = trial.suggest_float("x", -1.0, 1.0)
    time.sleep(0.01)
    return x * x


def _add(
    storage: StudyStorage,
    name: str,
    tuning: Mapping[str, Any],
    worker: int,
    total: int,
    start: Any,
    ran: Any,
) -> None:
    study = open_study(storage, name, tuning, worker)
    start.wait()  # every process begins together
    ran.put(add_trials(study, storage.lock(name), quick, total=total, seconds=120))


def processes_adding_trials(
    storage: StudyStorage, name: str, tuning: Mapping[str, Any], total: int, processes: int = 2
) -> list[int]:
    """`processes` spawned processes adding trials of `quick` to the study `name` until it
    holds `total`; how many each ran."""
    context = multiprocessing.get_context("spawn")
    start, ran = context.Barrier(processes), context.Queue()
    started = [
        context.Process(target=_add, args=(storage, name, tuning, w, total, start, ran))
        for w in range(processes)
    ]
    for process in started:
        process.start()
    counts = [ran.get(timeout=300) for _ in started]
    for process in started:
        process.join(timeout=60)
    if [p.exitcode for p in started] != [0] * processes:
        raise RuntimeError(f"a process failed: exit codes {[p.exitcode for p in started]}")
    return counts
