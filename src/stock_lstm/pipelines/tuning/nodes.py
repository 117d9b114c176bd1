"""Glue: the Optuna study (sampler, pruner, stored in SQLite so a run resumes) around the
validation objective of ml_models/recurrent/tuning.py, and the override file the best trial
suggests.

The study is the one I/O exception among the nodes (like ingestion's source): it is built here
from `tuning.storage`, a path parameter, because Optuna writes every trial as it ends, which is
what lets an interrupted or repeated `make tune` continue the same study.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.common.settings import project_root
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


def open_study(tuning: Mapping[str, Any], model_type: str) -> optuna.Study:
    """The stored study `<study_name>-<model_type>`: created, or loaded to continue."""
    path = Path(str(tuning["storage"]))
    path = path if path.is_absolute() else project_root() / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.create_study(
        study_name=f"{tuning['study_name']}-{model_type}",
        storage=f"sqlite:///{path}",
        direction="minimize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=int(tuning["seed"])),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=int(tuning["pruner"]["n_startup_trials"]),
            n_warmup_steps=int(tuning["pruner"]["n_warmup_steps"]),
        ),
    )


def _completed_with(
    study: optuna.Study, knobs: Mapping[str, Any]
) -> optuna.trial.FrozenTrial | None:
    found = [
        t
        for t in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
        if t.params == dict(knobs)
    ]
    return found[0] if found else None


def run_tuning(
    features: pd.DataFrame,
    tuning: Mapping[str, Any],
    backtest: Mapping[str, Any],
    training: Mapping[str, Any],
) -> dict[str, Any]:
    """Add up to `tuning.n_trials` trials (within `tuning.timeout_minutes`) to the stored
    study, the current defaults first if the study has not scored them yet; report the best
    trial of the whole study next to the defaults' trial, on the same folds."""
    started = time.monotonic()
    # null leaves a knob out: an environment cannot delete a key of base's search space.
    space = {name: spec for name, spec in tuning["search_space"].items() if spec is not None}
    model_type = model_type_of(training)
    defaults = default_knobs(training, space)
    check_search_space(space, defaults)
    development, folds = development_folds(features, tuning, backtest)
    steps = [int(k) for k in tuning["score_steps"]]
    budget = float(tuning["timeout_minutes"]) * 60
    study = open_study(tuning, model_type)
    before = {t.number for t in study.get_trials(deepcopy=False)}
    if _completed_with(study, defaults) is None:
        study.enqueue_trial(defaults, user_attrs={"default": True})
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(
        validation_objective(development, folds, training, space, steps, started + budget),
        n_trials=int(tuning["n_trials"]),
        timeout=budget,
        callbacks=[_log_trial],
    )
    default_trial = _completed_with(study, defaults)
    complete = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    if not complete or default_trial is None:
        raise InputError(
            f"tuning: no trial (or not the defaults' one) completed within "
            f"{tuning['timeout_minutes']} minutes; raise tuning.timeout_minutes"
        )
    best = study.best_trial
    new = [trial_record(t) for t in study.get_trials(deepcopy=False) if t.number not in before]
    return {
        "study_name": study.study_name,
        "storage": str(tuning["storage"]),
        "model_type": model_type,
        "score": SCORE,
        "score_steps": steps,
        "data_version": features.attrs.get("version_id"),
        "development_end": f"{development['date'].max():%Y-%m-%d}",
        "folds": [fold.as_dict() for fold in folds],
        "default": {
            "trial": default_trial.number,
            "value": default_trial.value,
            "params": defaults,
        },
        "best": {"trial": best.number, "value": best.value, "params": dict(best.params)},
        "best_beats_default": best.value < default_trial.value,
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
