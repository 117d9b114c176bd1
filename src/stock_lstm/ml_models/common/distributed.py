"""Independent pieces of work (the backtest's fits, the tuning's trials) as Dask tasks.

One home for the Dask client: `run_tasks(tasks, workers=n, retries=r)` runs every task and
returns their results in the tasks' order.

- `workers=1` and no `DASK_SCHEDULER_ADDRESS`: in this process, one after another (Dask is not
  even imported);
- `DASK_SCHEDULER_ADDRESS=tcp://host:8786`: on that existing cluster (whose workers have the
  project installed: the Dockerfile's image, docs/scaling.md); a scheduler that does not answer
  within `CONNECT_TIMEOUT_S` stops the run with a message naming the address;
- else a `LocalCluster` of `workers` processes with one thread each (TensorFlow and LightGBM
  then keep to their process).

A task that raises is run again up to `retries` times; one whose worker dies (killed, out of
memory) is rescheduled by the scheduler (up to its `allowed-failures`). A task that still
fails stops the run with an error naming it, and the remaining tasks are cancelled: the
caller returns nothing, so nothing partial is saved. A cluster left without any worker for
`NO_WORKERS_TIMEOUT_S` (they left and nothing restarted them) stops the run the same way,
naming it; a local cluster tolerates slow connections (`LOCAL_CLUSTER_CONFIG`). Progress (done / total, ETA) is logged as
tasks finish, and the dashboard's link when a cluster runs.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from stock_lstm.common.errors import InputError, SettingsError

logger = logging.getLogger(__name__)

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT_S = 5
# LocalCluster's dashboard; when the port is taken Dask serves it on another one (the log
# says which).
DASHBOARD_ADDRESS = ":8787"
# A local cluster on a loaded machine: a connection stalled behind busy processes is not
# dropped at Dask's 30 s defaults (a full-universe backtest at load average 14 on 2 cores lost
# both workers that way, and nothing restarted them).
LOCAL_CLUSTER_CONFIG = {
    "distributed.comm.timeouts.connect": "120s",
    "distributed.comm.timeouts.tcp": "300s",
}
# With tasks left and no worker for this long, the run stops naming it instead of waiting.
NO_WORKERS_TIMEOUT_S = 300
_POLL_S = 0.5


@dataclass(frozen=True)
class Shared:
    """A large argument several tasks read (a fold's rows): sent to the cluster once, not with
    every task."""

    value: Any


@dataclass(frozen=True)
class Task:
    """`function(*args)`, named for the console and errors (e.g. "fold 3 lstm seed 43").
    An argument wrapped in `Shared` is sent to the cluster once for every task that reads it."""

    name: str
    function: Callable[..., Any]
    args: tuple[Any, ...] = field(default=())


@dataclass
class RunStats:
    """Where `run_tasks` ran and what it cost: filled in when passed as its `stats`."""

    workers: int = 1
    cluster: str = "in-process"
    wall_seconds: float = 0.0
    # per worker (the in-process run: this process), MiB
    peak_rss_mib: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "cluster": self.cluster,
            "wall_seconds": round(self.wall_seconds, 2),
            "peak_rss_mib_per_worker": list(self.peak_rss_mib.values()),
        }


class TaskFailed(RuntimeError):
    """A task that failed for good (after its retries): the message names it."""


def scheduler_address() -> str | None:
    """The existing cluster's scheduler (`DASK_SCHEDULER_ADDRESS`), or None."""
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    return address or None


def check_workers(workers: Any, what: str = "workers") -> int:
    """`workers` (an int, or its digits from a command line) as a count >= 1; InputError
    naming `what` otherwise."""
    text = str(workers).strip()
    if isinstance(workers, bool) or not isinstance(workers, int | str) or not text.isdigit():
        raise InputError(f"{what} must be a whole number >= 1, got {workers!r}")
    if int(text) < 1:
        raise InputError(f"{what} must be a whole number >= 1, got {workers!r}")
    return int(text)


def uses_dask(workers: int) -> bool:
    """Whether `run_tasks(..., workers=workers)` runs on a Dask cluster."""
    return scheduler_address() is not None or workers > 1


@contextmanager
def dask_client(workers: int) -> Iterator[Any]:
    """A `distributed.Client`: on `DASK_SCHEDULER_ADDRESS`'s cluster, else on a LocalCluster of
    `workers` single-threaded processes (closed on exit)."""
    import dask
    from dask.distributed import Client, LocalCluster

    address = scheduler_address()
    if address is not None:
        try:
            client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            raise SettingsError(
                f"{SCHEDULER_ENV}={address}: no Dask scheduler answered within "
                f"{CONNECT_TIMEOUT_S} s ({type(exc).__name__}); start one there (`dask "
                f"scheduler`) or unset {SCHEDULER_ENV} to run on this machine"
            ) from None
        with client:
            _log_cluster(client, f"the Dask cluster at {address}")
            yield client
        return
    with (
        dask.config.set(LOCAL_CLUSTER_CONFIG),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=DASHBOARD_ADDRESS,
        ) as cluster,
        Client(cluster) as client,
    ):
        _log_cluster(client, f"a local Dask cluster of {workers} worker processes")
        yield client


def _log_cluster(client: Any, what: str) -> None:
    workers = len(client.nthreads())
    logger.info("running on %s (%d workers); dashboard: %s", what, workers, client.dashboard_link)


def run_tasks(
    tasks: Sequence[Task],
    *,
    workers: int = 1,
    retries: int = 0,
    what: str = "fit",
    stats: RunStats | None = None,
) -> list[Any]:
    """Every task's result, in the tasks' order (module docstring: where they run). `stats`,
    when given, is filled with where they ran, the wall time and the peak memory per worker."""
    workers = check_workers(workers)
    if retries < 0:
        raise InputError(f"retries must be >= 0, got {retries}")
    stats = stats if stats is not None else RunStats()
    started = time.perf_counter()
    progress = _Progress(len(tasks), what)
    if not uses_dask(workers):
        results = [_run_here(task, progress, what) for task in tasks]
        stats.workers, stats.cluster = 1, "in-process"
        stats.peak_rss_mib = {"in-process": peak_rss_mib()}
    else:
        with dask_client(workers) as client:
            results = _run_on(client, tasks, retries, progress, what)
            # after the run: an existing cluster's workers may join while it runs
            stats.workers = len(client.nthreads())
            stats.cluster = scheduler_address() or "local"
            stats.peak_rss_mib = _peak_memory(client)
    stats.wall_seconds = time.perf_counter() - started
    return results


def _run_here(task: Task, progress: _Progress, what: str) -> Any:
    args = [arg.value if isinstance(arg, Shared) else arg for arg in task.args]
    try:
        result = task.function(*args)
    except Exception as exc:
        raise _failure(task, what, exc, retries=0) from exc
    progress.done(task.name)
    return result


def _run_on(
    client: Any, tasks: Sequence[Task], retries: int, progress: _Progress, what: str
) -> list[Any]:
    from dask.distributed import as_completed

    run = uuid.uuid4().hex[:8]
    progress.started = time.perf_counter()  # the ETA from the first task on, not start-up
    scattered: dict[int, Any] = {}

    def resolve(arg: Any) -> Any:
        if not isinstance(arg, Shared):
            return arg
        if id(arg.value) not in scattered:
            # a task's result, not scattered data: the scheduler keeps it and computes it
            # again when the worker holding it dies
            scattered[id(arg.value)] = client.submit(
                _identity, arg.value, key=f"shared-{len(scattered)}-{run}", pure=False
            )
        return scattered[id(arg.value)]

    futures = {}
    for task in tasks:
        future = client.submit(
            task.function,
            *(resolve(arg) for arg in task.args),
            key=f"{what}-{_slug(task.name)}-{run}",
            pure=False,
            retries=retries,
        )
        futures[future.key] = (future, task)
    by_key = {}
    # Each result is fetched as its task finishes (with_results), off this thread: a result
    # whose worker leaves before it is read is no failure (Dask computes it again on a worker
    # that is left, and the fetch waits for that), and this loop never blocks on a fetch, so a
    # cluster that loses every worker stops the run with _check_workers' message whichever
    # task was running or holding a result on them.
    waiting = as_completed(
        [future for future, _ in futures.values()], with_results=True, raise_errors=False
    )
    alone_since: float | None = None
    try:
        while not waiting.is_empty():
            if not waiting.has_ready():
                # a result computed again that then failed ends its fetch without a word
                _raise_failed(futures, by_key, retries, what)
                alone_since = _check_workers(client, alone_since, progress)
                time.sleep(_POLL_S)
                continue
            future, result = next(waiting)
            if future.status in _FAILED:
                _raise_failed({future.key: futures[future.key]}, by_key, retries, what)
            by_key[future.key] = result
            progress.done(futures[future.key][1].name)
    finally:
        client.cancel([future for future, _ in futures.values()])
        client.cancel(list(scattered.values()))
    return [by_key[key] for key in futures]


_FAILED = ("error", "cancelled")


def _raise_failed(
    futures: dict[Any, tuple[Any, Task]], read: dict[Any, Any], retries: int, what: str
) -> None:
    """The failure (TaskFailed, or InputError for a task's own input) of the first future not
    yet read that erred or was cancelled; nothing when none did."""
    for key, (future, task) in futures.items():
        if key not in read and future.status in _FAILED:
            exc = future.exception() if future.status == "error" else None
            raise _failure(task, what, exc, retries, future.status) from exc


def _check_workers(client: Any, alone_since: float | None, progress: _Progress) -> float | None:
    """None while the cluster has a worker; else since when it has had none, and TaskFailed
    once that is NO_WORKERS_TIMEOUT_S ago."""
    if client.nthreads():
        return None
    now = time.monotonic()
    alone_since = now if alone_since is None else alone_since
    if now - alone_since >= NO_WORKERS_TIMEOUT_S:
        raise TaskFailed(
            f"no Dask worker left for {NO_WORKERS_TIMEOUT_S} s ({progress.count}/"
            f"{progress.total} {progress.what}s done): the workers left the cluster and none "
            "came back (the log says why, e.g. a missed heartbeat on a loaded machine); run "
            "again, on a quieter machine or with fewer workers"
        )
    return alone_since


def _identity(value: Any) -> Any:
    return value


def _failure(
    task: Task, what: str, exc: BaseException | None, retries: int, status: str = "error"
) -> Exception:
    tried = f" (tried {retries + 1} times)" if retries else ""
    cause = f"{type(exc).__name__}: {exc}" if exc is not None else f"the task was {status}"
    message = f"{what} {task.name!r} failed{tried}: {cause}"
    if isinstance(exc, InputError):
        return InputError(message)
    return TaskFailed(message)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9@.]+", "_", name).strip("_")


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _peak_memory(client: Any) -> dict[str, float]:
    """Each live worker's peak resident memory (MiB), logged; a restarted worker counts from
    its restart."""
    try:
        peaks = dict(sorted(client.run(peak_rss_mib).items()))
    except Exception:  # a worker that left: the figure is a courtesy, not part of the run
        return {}
    logger.info(
        "peak memory per worker (MiB): %s",
        ", ".join(f"{worker}: {mib}" for worker, mib in peaks.items()),
    )
    return peaks


class _Progress:
    """Logs "fit 12/84 done (fold 3 lstm seed 43), ETA 3m10s" as tasks finish."""

    def __init__(self, total: int, what: str) -> None:
        self.total, self.what = total, what
        self.count = 0
        self.started = time.perf_counter()

    def done(self, name: str) -> None:
        self.count += 1
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.count * (self.total - self.count)
        eta = f", ETA {_duration(left)}" if self.count < self.total else ""
        logger.info(
            "%s %d/%d done (%s) after %s%s",
            self.what,
            self.count,
            self.total,
            name,
            _duration(elapsed),
            eta,
        )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
