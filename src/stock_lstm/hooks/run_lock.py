"""One pipeline run at a time writes to a SQLite database: the second one waits, saying which run
it waits for, or gives up with one line, never a traceback.

SQLite has one write lock per database file. A run whose save holds it longer than the busy
timeout (30 s; big versioned saves take minutes) made a concurrent run fail deep in a save. So a
`kedro run` takes an advisory file lock beside the database (`<database>.run-lock`, through
portalocker) for the whole run, before anything is read or tracked, and writes who holds it
(pid, pipelines, start time) into that file. Another run finds it taken, logs who holds it and
waits up to RUN_LOCK_WAIT_SECONDS; then it stops with `RunLocked` (an InputError: one line on
the command line). PostgreSQL needs none of this (row and advisory locks inside the database).
The lock is the operating system's: a run that is killed releases it.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import portalocker
from kedro.framework.hooks import hook_impl
from sqlalchemy.engine import make_url

from stock_lstm.common.errors import InputError
from stock_lstm.common.settings import DEFAULT_DATA_DIR, environment_database_url, get_settings

logger = logging.getLogger(__name__)

LOCK_SUFFIX = ".run-lock"
POLL_S = 0.2  # how often a waiting run tries the lock again


class RunLocked(InputError):
    """Another run still writes to the database after the wait: the message names it."""


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL (None: another database, or SQLite in memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _holder(lock_file: Path) -> str:
    """Who holds the lock, as its holder wrote it: "pid 123, pipeline training, started ..."."""
    try:
        run = json.loads(lock_file.read_text())
        return f"pid {run['pid']}, pipeline {run['pipeline']}, started {run['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a run that has not said who it is yet"


class RunLock:
    """The advisory lock of one SQLite database's writers (see the module docstring)."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + LOCK_SUFFIX)
        self._lock: portalocker.Lock | None = None

    def acquire(self, pipeline: str, wait_s: float) -> None:
        """Hold the lock, waiting up to `wait_s` seconds for another run; RunLocked after."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = portalocker.Lock(self.path, mode="a+", timeout=0, fail_when_locked=True)
        try:
            handle = lock.acquire()
        except portalocker.exceptions.LockException:
            holder = _holder(self.path)
            logger.warning(
                "another run is writing %s (%s): waiting up to %g s for it to finish",
                self.database,
                holder,
                wait_s,
            )
            lock = portalocker.Lock(
                self.path, mode="a+", timeout=wait_s, check_interval=POLL_S, fail_when_locked=False
            )
            try:
                handle = lock.acquire()
            except portalocker.exceptions.LockException:
                raise RunLocked(
                    f"another run is still writing {self.database} ({_holder(self.path)}) after "
                    f"{wait_s:g} s (RUN_LOCK_WAIT_SECONDS): run again once it has finished"
                ) from None
        handle.seek(0)
        handle.truncate()
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        handle.write(json.dumps({"pid": os.getpid(), "pipeline": pipeline, "started": started}))
        handle.flush()
        self._lock = lock

    def release(self) -> None:
        if self._lock is None:
            return
        handle = self._lock.fh
        if handle is not None:
            handle.truncate(0)  # no stale holder for the next reader
        self._lock.release()
        self._lock = None


def _pipeline_name(run_params: dict[str, Any]) -> str:
    names = run_params.get("pipeline_names") or run_params.get("pipeline_name")
    names = [names] if isinstance(names, str) else names or ["__default__"]
    return "+".join(str(n) for n in names)


class RunLockHooks:
    """Takes the run lock of this environment's SQLite database for each pipeline run. Listed
    last in settings.HOOKS, so it runs first: a refused run opens no MLflow run."""

    def __init__(self) -> None:
        self._database: Path | None = None
        self._lock: RunLock | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        data_dir = context.config_loader["globals"].get("data_dir", DEFAULT_DATA_DIR)
        self._database = sqlite_file(environment_database_url(str(data_dir)))

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        self._release()  # a run whose other before_pipeline_run hook failed: no error hook ran
        if self._database is None:
            return
        lock = RunLock(self._database)
        lock.acquire(_pipeline_name(run_params), get_settings().run_lock_wait_s)
        self._lock = lock

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._release()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
