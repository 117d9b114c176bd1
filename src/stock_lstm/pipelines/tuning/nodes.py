"""Glue: the Optuna study (stored, shared by every process that tunes the same thing: see
data_pipeline/tuning_study.py) around the validation objective of ml_models/recurrent/
tuning.py, and the override file the best trial suggests.

The study is the one I/O exception among the nodes (like ingestion's source): it is opened here
from `tuning.storage` and the project's database (DATABASE_URL), because Optuna writes every
trial as it ends, which is what lets an interrupted or repeated `make tune`, or other processes
and machines, continue the same study. `tuning.workers` processes add trials to it, as Dask
tasks (ml_models/common/distributed.py); the node returns once all have finished, so the
report and the suggestion are written once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.common.settings import get_settings
from stock_lstm.data_pipeline.tuning_study import (
    StudyStorage,
    add_trials,
    enqueue_once,
    open_study,
    study_name,
)
from stock_lstm.ml_models.common.distributed import (
    Task,
    check_workers,
    run_tasks,
    scheduler_address,
)
from stock_lstm.ml_models.common.walk_forward import Fold
from stock_lstm.ml_models.model_types import model_type_of
from stock_lstm.ml_models.recurrent.tuning import (
    check_search_space,
    default_knobs,
    development_folds,
    trial_record,
    validation_objective,
    with_knobs,
)

logger = logging.getLogger(__name__)

SCORE = "validation MAE ratio to naive (mean over folds, tickers and score_steps; < 1 beats naive)"


def _completed_with(
    study: optuna.Study, knobs: Mapping[str, Any]
) -> optuna.trial.FrozenTrial | None:
    found = [
        t
        for t in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
        if t.params == dict(knobs)
    ]
    return found[0] if found else None


@dataclass(frozen=True)
class TuningSetup:
    """What every process of a tuning run needs (sent to the Dask workers): the development
    rows and folds, the searched knobs and the study's storage and name."""

    tuning: Mapping[str, Any]
    training: Mapping[str, Any]
    model_type: str
    space: Mapping[str, Any]
    defaults: Mapping[str, Any]
    development: pd.DataFrame
    folds: Sequence[Fold]
    steps: Sequence[int]
    storage: StudyStorage
    study_name: str
    workers: int

    @property
    def seconds(self) -> float:
        return float(self.tuning["timeout_minutes"]) * 60


def tuning_setup(
    features: pd.DataFrame,
    tuning: Mapping[str, Any],
    backtest: Mapping[str, Any],
    training: Mapping[str, Any],
    database_url: str,
) -> TuningSetup:
    """Check the parameters and derive the study's folds, storage and name."""
    # null leaves a knob out: an environment cannot delete a key of base's search space.
    space = {name: spec for name, spec in tuning["search_space"].items() if spec is not None}
    model_type = model_type_of(training)
    defaults = default_knobs(training, space)
    check_search_space(space, defaults)
    workers = check_workers(tuning.get("workers", 1), "tuning.workers (make tune WORKERS=n)")
    storage = StudyStorage.of(tuning["storage"], database_url)
    if storage.journal is not None and scheduler_address() is not None:
        raise InputError(
            f"tuning: the study is the journal file {storage.journal}, which the workers of the "
            f"Dask cluster at {scheduler_address()} cannot share; set DATABASE_URL to the "
            "project's PostgreSQL (docs/scaling.md) or unset DASK_SCHEDULER_ADDRESS"
        )
    development, folds = development_folds(features, tuning, backtest)
    name = study_name(
        tuning,
        model_type,
        {
            "data_version": features.attrs.get("version_id"),
            "folds": [fold.as_dict() for fold in folds],
            "training": training,
        },
    )
    return TuningSetup(
        tuning=tuning,
        training=training,
        model_type=model_type,
        space=space,
        defaults=defaults,
        development=development,
        folds=folds,
        steps=[int(k) for k in tuning["score_steps"]],
        storage=storage,
        study_name=name,
        workers=workers,
    )


def tuning_worker(setup: TuningSetup, worker: int) -> int:
    """One process's part of the study: trials until it holds `tuning.n_trials` (or the time
    budget has passed). Returns how many this process ran."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(setup.storage, setup.study_name, setup.tuning, worker)
    objective = validation_objective(
        setup.development,
        setup.folds,
        setup.training,
        setup.space,
        setup.steps,
        time.monotonic() + setup.seconds,
    )
    return add_trials(
        study,
        setup.storage.lock(setup.study_name),
        objective,
        total=int(setup.tuning["n_trials"]),
        seconds=setup.seconds,
        callbacks=[_log_trial],
    )


def run_tuning(
    features: pd.DataFrame,
    tuning: Mapping[str, Any],
    backtest: Mapping[str, Any],
    training: Mapping[str, Any],
) -> dict[str, Any]:
    """Bring the stored study to `tuning.n_trials` trials (within `tuning.timeout_minutes`)
    with `tuning.workers` processes, the current defaults first if the study has not scored
    them yet; report the best trial of the whole study next to the defaults' trial, on the
    same folds."""
    started = time.monotonic()
    setup = tuning_setup(features, tuning, backtest, training, get_settings().database_url)
    workers = setup.workers
    study = open_study(setup.storage, setup.study_name, tuning)
    waiting = (optuna.trial.TrialState.WAITING,)
    before = {t.number for t in study.get_trials(deepcopy=False) if t.state not in waiting}
    enqueue_once(study, setup.storage, setup.defaults, default=True)
    logger.info(
        "tuning: study %s in %s: %d of %d trials stored, %d process(es)",
        setup.study_name,
        setup.storage.describe(),
        len(before),
        int(tuning["n_trials"]),
        workers,
    )
    # one task per process, each adding trials until the study holds n_trials: in this process
    # at workers=1, else on a LocalCluster or DASK_SCHEDULER_ADDRESS's cluster
    ran = run_tasks(
        [Task(f"tuning process {w}", tuning_worker, (setup, w)) for w in range(workers)],
        workers=workers,
        what="tuning process",
    )
    defaults = setup.defaults
    default_trial = _completed_with(study, defaults)
    complete = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    if not complete or default_trial is None:
        raise InputError(
            f"tuning: no trial (or not the defaults' one) completed within "
            f"{tuning['timeout_minutes']} minutes; raise tuning.timeout_minutes"
        )
    best = study.best_trial
    new = [  # the trials that ended during this run (another run's may be among them)
        trial_record(t)
        for t in study.get_trials(deepcopy=False)
        if t.number not in before and t.state.is_finished()
    ]
    development = setup.development
    return {
        "study_name": study.study_name,
        "storage": setup.storage.describe(),
        "model_type": setup.model_type,
        "score": SCORE,
        "score_steps": list(setup.steps),
        "data_version": features.attrs.get("version_id"),
        "development_end": f"{development['date'].max():%Y-%m-%d}",
        "folds": [fold.as_dict() for fold in setup.folds],
        "default": {
            "trial": default_trial.number,
            "value": default_trial.value,
            "params": dict(defaults),
        },
        "best": {"trial": best.number, "value": best.value, "params": dict(best.params)},
        "best_beats_default": best.value < default_trial.value,
        "workers": workers,
        "trials_per_process": ran,  # this run's processes (other runs may add to the study)
        "n_trials_in_study": len(study.trials),
        "n_trials_this_run": len(new),
        "n_pruned_this_run": sum(t["state"] == "PRUNED" for t in new),
        "seconds": round(time.monotonic() - started, 1),
        "trials": new,
    }


def _log_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    logger.info(
        "tuning: trial %d %s, value %s, params %s",
        trial.number,
        trial.state.name,
        trial.value,
        trial.params,
    )


def suggested_override(report: Mapping[str, Any], training: Mapping[str, Any]) -> dict[str, Any]:
    """The whole `training` block with the best trial's knobs: a file for `--env tuned` or to
    copy into conf/base. Whole, so `--env tuned` trains exactly what the study scored, whichever
    environment it ran in (an environment's keys are merged into base's)."""
    return {"training": with_knobs(training, report["best"]["params"])}
