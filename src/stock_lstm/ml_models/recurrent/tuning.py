"""Hyper-parameter search for the Keras forecaster (`make tune`), scored on validation only.

The tuner sees only the development period: the rows before the backtest's first test fold, so
nothing `make backtest` judges a model on has informed the choice. Inside it, walk-forward
folds (common/walk_forward.make_folds) fit each trial's network exactly as `kedro run` does
(keras_training.fit_network) on the rows before the fold's own test slice, and score it on that
test slice (`fold_test_mae_ratio`): data the trial was neither fitted, early-stopped nor shrunk
on. Scoring on the validation tail the trial was stopped and shrunk on favoured a shrinkage of 0,
which is exactly naive (scores piled up at 1.0).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.intervals import INTERVAL_SCOPES
from stock_lstm.ml_models.common.metrics import coverage, winkler_score
from stock_lstm.ml_models.common.walk_forward import (
    Fold,
    backtest_folds,
    fold_periods,
    mae_ratios,
    make_folds,
    spread,
    visible_rows,
)
from stock_lstm.ml_models.model_types import model_type_of
from stock_lstm.ml_models.recurrent.keras_training import fit_network, fit_network_per_scope

# The `training.model` knobs a search space may name.
TUNABLE = ("units", "layers", "dropout", "learning_rate", "window", "loss")


def development_rows(features: pd.DataFrame, backtest: Mapping[str, Any]) -> pd.DataFrame:
    """The rows before the backtest's first test fold: all the tuner may read."""
    first = backtest_folds(features, backtest)[0]
    dates = pd.to_datetime(features["date"])
    development = features.loc[dates < first.test_start].copy()
    development.attrs = dict(features.attrs)
    return development


def tuning_folds(development: pd.DataFrame, tuning: Mapping[str, Any]) -> list[Fold]:
    """Walk-forward folds over the development period; only their validation tails are scored."""
    return make_folds(
        development,
        int(tuning["folds"]),
        float(tuning["test_share"]),
        int(tuning["validation_days"]),
    )


def development_folds(
    features: pd.DataFrame, tuning: Mapping[str, Any], backtest: Mapping[str, Any]
) -> tuple[pd.DataFrame, list[Fold]]:
    """The development period (`development_rows`) and the tuner's folds over it."""
    development = development_rows(features, backtest)
    return development, tuning_folds(development, tuning)


def check_search_space(space: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    """Every knob is tunable and the current default lies in its range, so the defaults can
    be scored as a trial of the same study (the comparison the report makes)."""
    for name, spec in space.items():
        if name not in TUNABLE:
            raise InputError(
                f"tuning.search_space: {name!r} is not tunable; use {', '.join(TUNABLE)}"
            )
        default = defaults[name]
        inside = (
            float(spec["low"]) <= float(default) <= float(spec["high"])
            if isinstance(spec, Mapping)
            else default in list(spec)
        )
        if not inside:
            raise InputError(
                f"tuning.search_space.{name}: the current training.model.{name} ({default!r}) "
                f"is outside {spec!r}; widen the space so the defaults can be compared"
            )


def suggest_knobs(trial: optuna.Trial, space: Mapping[str, Any]) -> dict[str, Any]:
    """One value per knob: a list is a set of choices, {low, high, log} a float range."""
    knobs = {}
    for name, spec in space.items():
        if isinstance(spec, Mapping):
            knobs[name] = trial.suggest_float(
                name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log", False))
            )
        else:
            knobs[name] = trial.suggest_categorical(name, list(spec))
    return knobs


def default_knobs(training: Mapping[str, Any], space: Mapping[str, Any]) -> dict[str, Any]:
    """The current `training.model` values of the searched knobs."""
    return {name: training["model"][name] for name in space}


def with_knobs(training: Mapping[str, Any], knobs: Mapping[str, Any]) -> dict[str, Any]:
    """The `training` block with `knobs` in place of its model's values."""
    return {**training, "model": {**training["model"], **knobs}}


def validation_objective(
    development: pd.DataFrame,
    folds: Sequence[Fold],
    training: Mapping[str, Any],
    space: Mapping[str, Any],
    steps: Sequence[int],
    deadline: float,
):
    """Optuna's objective: the mean over the folds of the MAE ratio to naive on each fold's own
    test slice (`fold_test_mae_ratio`). The running mean
    is reported after each fold, so the pruner stops a hopeless trial early; a trial still
    running at `deadline` (time.monotonic) is stopped too. The defaults' trial is never pruned:
    it is what the best trial is compared with."""
    model_type = model_type_of(training)
    defaults = default_knobs(training, space)

    def objective(trial: optuna.Trial) -> float:
        knobs = suggest_knobs(trial, space)
        params = with_knobs(training, knobs)
        is_default = knobs == defaults
        trial.set_user_attr("default", is_default)
        scores: list[float] = []
        for index, fold in enumerate(folds):
            model = fit_network(model_type, params, development, fold.cutoffs())
            window = int(params["model"]["window"])
            scores.append(fold_test_mae_ratio(development, fold, model, window, steps))
            trial.report(float(np.mean(scores)), step=index)
            last = index == len(folds) - 1
            if not last and not is_default:
                if trial.should_prune():
                    raise optuna.TrialPruned(f"fold {fold.number}: worse than the median")
                if time.monotonic() > deadline:
                    trial.set_user_attr("stopped", "time budget")
                    raise optuna.TrialPruned("the time budget ran out")
        return float(np.mean(scores))

    return objective


def fold_test_mae_ratio(
    development: pd.DataFrame, fold: Fold, model: Any, window: int, steps: Sequence[int]
) -> float:
    """The model's MAE over the naive forecast's on the development fold's own test slice
    (after its validation tail, before the backtest's first test fold), averaged over tickers
    and `steps`: what tuning minimises."""
    ratios = mae_ratios(fold_periods(development, fold, window), model, steps)
    if not ratios:
        raise InputError(
            f"tuning: development fold {fold.number}'s test slice has no origin with a target "
            f"at steps {list(steps)}"
        )
    return float(np.mean(ratios))


def trial_record(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """A trial as JSON: what the report keeps and the tracking hook logs as a child run."""
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value,
        "params": dict(trial.params),
        "intermediate_values": {str(k): v for k, v in sorted(trial.intermediate_values.items())},
        "user_attrs": dict(trial.user_attrs),
        "datetime_start": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "datetime_complete": (
            trial.datetime_complete.isoformat() if trial.datetime_complete else None
        ),
    }


# --- the interval scope, chosen on the development period (`make interval-scope`) ------------


def interval_scope_report(
    development: pd.DataFrame,
    folds: Sequence[Fold],
    training: Mapping[str, Any],
    steps: Sequence[int],
    coverage_band: Sequence[float],
    scopes: Sequence[str] = INTERVAL_SCOPES,
) -> dict[str, Any]:
    """Which `training.intervals.scope` gives the best bands, judged inside the development period only.

    Per development fold the network is fitted once (training's knobs) and calibrated on the
    fold's validation tail once per scope; the coverage of each scope's bands is measured on
    the fold's own test slice, which still lies before the backtest's first test fold. The
    criterion (`choose_scope`): among the scopes whose coverage lies in `coverage_band`, the
    lowest Winkler score; a tie goes to "pooled" (the simpler)."""
    level = float(training["intervals"]["level"])
    coverage_band = checked_coverage_band(coverage_band, level)
    window = int(training["model"]["window"])
    model_type = model_type_of(training)
    # found[scope][ticker][k] = coverage per fold (None where the fold has no target)
    found: dict[str, dict[str, dict[int, list[float | None]]]] = {s: {} for s in scopes}
    scores: dict[str, dict[str, dict[int, list[float | None]]]] = {s: {} for s in scopes}
    for fold in folds:
        visible = visible_rows(development, fold)
        fitted = fit_network_per_scope(model_type, training, visible, fold.cutoffs(), scopes)
        for ticker, period in fold_periods(development, fold, window).items():
            for scope, model in fitted.items():
                bands = model.forecast(ticker, period)
                for k in steps:
                    valid, _, actual = period.step(k)
                    value = (
                        coverage(actual, bands.lower[valid, k - 1], bands.upper[valid, k - 1])
                        if valid.any()
                        else None
                    )
                    found[scope].setdefault(ticker, {}).setdefault(k, []).append(value)
                    score = (
                        winkler_score(
                            actual, bands.lower[valid, k - 1], bands.upper[valid, k - 1], level
                        )
                        if valid.any()
                        else None
                    )
                    scores[scope].setdefault(ticker, {}).setdefault(k, []).append(score)
    by_scope = {}
    for scope in scopes:
        cells = {
            ticker: {f"h{k}": spread(values) for k, values in by_step.items()}
            for ticker, by_step in found[scope].items()
        }
        errors = [
            abs(cell["mean"] - level)
            for by_step in cells.values()
            for cell in by_step.values()
            if cell["mean"] is not None
        ]
        winkler = {
            ticker: {f"h{k}": spread(values) for k, values in by_step.items()}
            for ticker, by_step in scores[scope].items()
        }
        means = [c["mean"] for by_step in cells.values() for c in by_step.values()]
        widths = [c["mean"] for by_step in winkler.values() for c in by_step.values()]
        by_scope[scope] = {
            "coverage": cells,
            "winkler": winkler,
            "mean_coverage": _mean_or_none(means),
            "mean_abs_coverage_error": float(np.mean(errors)) if errors else None,
            "winkler_geometric_mean": _geometric_mean_or_none(widths),
        }
    best, reason = choose_scope(by_scope, level, coverage_band)
    return {
        "criterion": "among the scopes whose mean coverage over tickers and steps lies in "
        f"[{coverage_band[0]}, {coverage_band[1]}], the lowest Winkler score (geometric mean over "
        "tickers and steps of the fold-mean score), on the development folds' test slices "
        "(before the backtest's first test fold); none in the band: the closest coverage",
        "coverage_band": list(coverage_band),
        "reason": reason,
        "level": level,
        "model_type": model_type,
        "steps": list(steps),
        "folds": [fold.as_dict() for fold in folds],
        "scopes": by_scope,
        "chosen": best,
        "current": str(training["intervals"].get("scope", "pooled")),
    }


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _geometric_mean_or_none(values: Sequence[float | None]) -> float | None:
    """Scale-free across tickers: the ratio of two scopes' geometric means is the geometric
    mean of their per-cell ratios, so a high-priced ticker does not decide alone."""
    kept = [v for v in values if v is not None and v > 0]
    return float(np.exp(np.mean(np.log(kept)))) if kept else None


def checked_coverage_band(band: Any, level: float) -> tuple[float, float]:
    """`interval_scope.coverage_band` as (low, high): two numbers with 0 < low <= level <= high
    < 1, else an InputError naming the parameter."""
    try:
        low, high = (float(v) for v in band)
    except (TypeError, ValueError):
        raise InputError(
            f"interval_scope.coverage_band is {band!r}; give two coverages [low, high], "
            "e.g. [0.87, 0.93]"
        ) from None
    if not 0.0 < low <= level <= high < 1.0:
        raise InputError(
            f"interval_scope.coverage_band is [{low}, {high}]; it must lie within (0, 1) and "
            f"contain training.intervals.level ({level})"
        )
    return low, high


def choose_scope(
    by_scope: Mapping[str, Mapping[str, Any]], level: float, coverage_band: tuple[float, float]
) -> tuple[str, str]:
    """The scope with the lowest Winkler score among those whose mean coverage lies in
    `coverage_band` (a tie: "pooled"); when none does, the one whose coverage is closest to
    `level`. Coverage alone would prefer bands that cover well however wide they are."""
    low, high = coverage_band
    scored = [
        s
        for s, found in by_scope.items()
        if found.get("mean_coverage") is not None
        and found.get("mean_abs_coverage_error") is not None
    ]
    if not scored:
        raise InputError("interval scope: no development fold has a test target to score")
    eligible = [
        s
        for s in scored
        if low <= by_scope[s]["mean_coverage"] <= high
        and by_scope[s].get("winkler_geometric_mean") is not None
    ]
    if eligible:
        best = min(eligible, key=lambda s: (by_scope[s]["winkler_geometric_mean"], s != "pooled"))
        return best, f"lowest Winkler score of the scopes covering within [{low}, {high}]"
    best = min(scored, key=lambda s: (by_scope[s]["mean_abs_coverage_error"], s != "pooled"))
    return best, f"no scope covers within [{low}, {high}]: the closest coverage to {level}"
