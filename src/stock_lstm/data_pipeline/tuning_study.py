"""Where the Optuna study lives and how several processes add trials to it (docs/scaling.md
"Tuning across processes").

- PostgreSQL (DATABASE_URL): Optuna's RDBStorage in the schema `tuning.storage.schema`
  (default `optuna`) of the project's database, created here. A schema of its own, not the
  project's: Optuna's tables keep their own Alembic revision in a table named `alembic_version`,
  the name the project's migrations use, and Optuna migrates its tables itself (`optuna storage
  upgrade`), so they are not a migration of ours. Every process on every machine with the same
  DATABASE_URL shares the study.
- SQLite (the default): Optuna's JournalStorage in the file `tuning.storage.journal`, which the
  processes of one machine can share (Optuna advises against SQLite's RDBStorage for parallel
  studies: one write lock for the whole file, and trials lost to "database is locked").

The study's name is derived from what defines its objective (the search space, the folds and
data version it scores on, the training block), so every process tuning the same thing joins the
same study, and changing any of it starts a new one. `tuning.n_trials` is the study's total: each
process takes the count of the study's trials and its next trial under one lock (a PostgreSQL
advisory lock, or a lock file beside the journal), so n processes never add more than n_trials.
A trial left RUNNING by a process that died is failed first (`fail_stale`), so a rerun adds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import portalocker
from optuna.storages._heartbeat import get_heartbeat_thread, is_heartbeat_enabled
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateSchema

from stock_lstm.common.errors import InputError
from stock_lstm.common.settings import project_root

# What a study's name does not depend on: how long and by how many processes it is searched.
BUDGET_KEYS = ("study_name", "n_trials", "timeout_minutes", "workers", "seed", "storage", "pruner")

# The trials `tuning.n_trials` counts: those started, but failed ones (a rerun replaces those);
# a waiting (enqueued) trial counts once a process takes it. A trial whose process was killed
# stays RUNNING in the storage: it is failed (`fail_stale`) before the trials are counted.
COUNTED = (
    optuna.trial.TrialState.RUNNING,
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.PRUNED,
)


# PostgreSQL: each running trial's process records Optuna's heartbeat every HEARTBEAT_S; a
# RUNNING trial without one for GRACE_S is stale (its process died or lost the database).
HEARTBEAT_S = 30
GRACE_S = 180


@dataclass(frozen=True)
class StudyStorage:
    """An Optuna storage every process can open from its description alone (it is pickled to
    the worker processes): an RDB URL (PostgreSQL) or a journal file."""

    # PostgreSQL, search_path set to the study's schema; its password kept out of repr()
    url: str | None = field(default=None, repr=False)
    schema: str | None = None
    journal: Path | None = None

    @classmethod
    def of(cls, storage: Mapping[str, Any], database_url: str) -> StudyStorage:
        """The study's storage for the project's database `database_url`."""
        url = make_url(database_url)
        if url.get_backend_name() == "postgresql":
            schema = str(storage["schema"])
            if not schema.isidentifier():
                raise InputError(
                    f"tuning.storage.schema: {schema!r} is not a plain schema name "
                    "(letters, digits and underscores)"
                )
            query = {**url.query, "options": f"-csearch_path={schema}"}
            located = url.set(query=query).render_as_string(hide_password=False)
            return cls(url=located, schema=schema)
        path = Path(str(storage["journal"]))
        return cls(journal=path if path.is_absolute() else project_root() / path)

    def describe(self) -> str:
        """For the report and logs: the password hidden."""
        if self.url is not None:
            shown = make_url(self.url).render_as_string(hide_password=True)
            return f"{shown} (schema {self.schema})"
        return f"journal file {self.journal}"

    def open(self) -> optuna.storages.BaseStorage:
        if self.url is not None:
            with warnings.catch_warnings():  # the heartbeat arguments are "experimental"
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    self.url,
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                )
        return optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(self.journal))
        )

    def prepare(self) -> None:
        """Create what the storage needs before Optuna opens it: the schema, or the folder."""
        if self.url is None:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            return
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(CreateSchema(self.schema, if_not_exists=True))
        finally:
            engine.dispose()

    def lock(self, study_name: str) -> Callable[[], AbstractContextManager[None]]:
        """A lock every process of the study takes around counting its trials and adding one."""
        if self.url is not None:
            return _advisory_lock(self.url, study_name)
        return _file_lock(self.journal.with_name(self.journal.name + ".trial-lock"))


def _advisory_lock(url: str, study_name: str) -> Callable[[], AbstractContextManager[None]]:
    key = int.from_bytes(hashlib.sha256(study_name.encode()).digest()[:8], "big", signed=True)
    engine = create_engine(url, poolclass=NullPool)  # a connection per lock: none left open

    @contextmanager
    def held() -> Iterator[None]:
        with engine.begin() as connection:  # released when the transaction ends
            connection.execute(select(func.pg_advisory_xact_lock(key)))
            yield

    return held


def _file_lock(path: Path) -> Callable[[], AbstractContextManager[None]]:
    @contextmanager
    def held() -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with portalocker.Lock(path, mode="a", timeout=600, check_interval=0.05):
            yield

    return held


def study_name(
    tuning: Mapping[str, Any],
    model_type: str,
    definition: Mapping[str, Any],
) -> str:
    """`<tuning.study_name>-<model_type>-<digest>`: the digest covers the tuning parameters but
    its budget (BUDGET_KEYS) and `definition` (folds, data version, training block), so
    processes tuning the same thing join one study."""
    defining = {k: v for k, v in tuning.items() if k not in BUDGET_KEYS}
    payload = json.dumps({"tuning": defining, **definition}, sort_keys=True, default=str)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:12]
    return f"{tuning['study_name']}-{model_type}-{digest}"


def sampler_and_pruner(
    tuning: Mapping[str, Any], worker: int
) -> tuple[optuna.samplers.BaseSampler, optuna.pruners.BasePruner]:
    """TPE seeded `tuning.seed + worker` (two processes with one seed would draw the same
    start-up trials) and the median pruner of `tuning.pruner`."""
    return (
        optuna.samplers.TPESampler(seed=int(tuning["seed"]) + worker),
        optuna.pruners.MedianPruner(
            n_startup_trials=int(tuning["pruner"]["n_startup_trials"]),
            n_warmup_steps=int(tuning["pruner"]["n_warmup_steps"]),
        ),
    )


def open_study(
    storage: StudyStorage, name: str, tuning: Mapping[str, Any], worker: int = 0
) -> optuna.Study:
    """The study `name` in `storage`: created, or loaded to continue (under the study's lock,
    so processes starting together do not race to create its tables or itself)."""
    sampler, pruner = sampler_and_pruner(tuning, worker)
    with storage.lock(name)():
        storage.prepare()
        return optuna.create_study(
            study_name=name,
            storage=storage.open(),
            direction="minimize",
            load_if_exists=True,
            sampler=sampler,
            pruner=pruner,
        )


def _process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _is_dead(process: str | None) -> bool:
    """Whether `process` (`host:pid`, as add_trials records it) is a process of this machine
    that is no longer running (another machine's, or none recorded: not known to be dead)."""
    host, _, pid = (process or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # running, as another user
        pass
    return False


def fail_stale(study: optuna.Study) -> None:
    """Fail the study's RUNNING trials whose process died, so they are not counted (called
    under the study's lock). On PostgreSQL: Optuna's heartbeat check
    (`optuna.storages.fail_stale_trials`). A journal file has no heartbeat in Optuna; its
    processes share one machine, so a trial whose recorded process is not running is failed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    if is_heartbeat_enabled(study._storage):
        return
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in running:
        if _is_dead(trial.user_attrs.get("process")):
            try:
                study._storage.set_trial_state_values(
                    trial._trial_id, state=optuna.trial.TrialState.FAIL
                )
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # it ended meanwhile


def enqueue_once(
    study: optuna.Study, storage: StudyStorage, params: Mapping[str, Any], **user_attrs: Any
) -> bool:
    """Enqueue a trial of `params` unless the study has one (waiting, running or done) already:
    each process may call this, the study scores them once."""
    with storage.lock(study.study_name)():
        fail_stale(study)  # a dead process's RUNNING trial of `params` is scored again
        states = (
            optuna.trial.TrialState.WAITING,
            optuna.trial.TrialState.RUNNING,
            optuna.trial.TrialState.COMPLETE,
        )
        for trial in study.get_trials(deepcopy=False, states=states):
            # a waiting trial has no params yet: its enqueued ones are a system attribute
            if dict(params) in (trial.params, trial.system_attrs.get("fixed_params")):
                return False
        study.enqueue_trial(dict(params), user_attrs=user_attrs)
        return True


def add_trials(
    study: optuna.Study,
    lock: Callable[[], AbstractContextManager[None]],
    objective: Callable[[optuna.Trial], float],
    total: int,
    seconds: float,
    callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = (),
) -> int:
    """Optuna's ask-and-tell loop for one process of many: until the study holds `total` started
    trials (every process's, failed ones aside) or `seconds` have passed, take the next trial (a
    waiting one first) under `lock`, so the count and the new trial are one step for all
    processes. Returns how many trials this process ran. An error in the objective marks its
    trial failed and stops the process, as `Study.optimize` does."""
    deadline = time.monotonic() + seconds
    ran = 0
    while time.monotonic() < deadline:
        with lock():
            fail_stale(study)
            if len(study.get_trials(deepcopy=False, states=COUNTED)) >= total:
                break
            with warnings.catch_warnings():  # the heartbeat is run here, as optimize() does
                warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used")
                trial = study.ask()
            trial.set_user_attr("process", _process())  # under the lock: no trial without it
            if is_heartbeat_enabled(study._storage):  # nor without a first heartbeat
                study._storage.record_heartbeat(trial._trial_id)
        ran += 1
        # Optuna's heartbeat thread (what Study.optimize runs around a trial); none on a journal
        with get_heartbeat_thread(trial._trial_id, study._storage):
            try:
                value = objective(trial)
            except optuna.TrialPruned:
                frozen = study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            except BaseException:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                raise
            else:
                frozen = study.tell(trial, value)
        for callback in callbacks:
            callback(study, frozen)
    return ran
