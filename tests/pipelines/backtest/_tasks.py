"""The faulty tasks test_distributed.py runs on Dask workers. A worker imports the module of a
task's function to run it: this one imports nothing heavy at the top (not Kedro, not the test
module's fixtures), so a worker process starts in a few seconds less."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def _fit_naive(features: Any, cutoffs: Any, *, params: Any) -> Any:
    from stock_lstm.ml_models.common.baselines import fit_naive

    return fit_naive(features, cutoffs, params=params)


def dies_once(marker: str, features: Any, cutoffs: Any, *, params: Any) -> Any:
    """The naive fit, but the first attempt kills its worker process (as the OOM killer would)."""
    if not Path(marker).exists():
        Path(marker).write_text("died here once")
        os._exit(1)
    return _fit_naive(features, cutoffs, params=params)


def raises_once(marker: str, features: Any, cutoffs: Any, *, params: Any) -> Any:
    if not Path(marker).exists():
        Path(marker).write_text("raised here once")
        raise RuntimeError("a passing fault")
    return _fit_naive(features, cutoffs, params=params)


def leave_the_cluster() -> None:
    """This task's worker leaves the cluster for good, nanny too (as a worker the scheduler
    dropped for a missed heartbeat does under heavy load): nobody restarts it, and the task
    never ends (its worker process goes without waiting for it)."""
    from dask.distributed import get_worker

    worker = get_worker()
    worker.loop.add_callback(worker.close, nanny=True, executor_wait=False, reason="left for good")
    time.sleep(60)  # still running when its worker leaves: the task is waiting for a worker


def closes_its_worker(features: Any, cutoffs: Any, *, params: Any) -> Any:
    """The naive fit, but first its worker leaves the cluster for good (leave_the_cluster)."""
    leave_the_cluster()
    return _fit_naive(features, cutoffs, params=params)


def finished(number: int) -> int:
    return number


def comm_timeouts() -> dict[str, str]:
    import dask

    from stock_lstm.ml_models.common.distributed import LOCAL_CLUSTER_CONFIG

    return {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG}
