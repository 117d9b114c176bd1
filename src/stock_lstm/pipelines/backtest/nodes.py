"""Glue: the fit each model name of `backtest.models` stands for (the table of model types),
then the walk-forward harness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.walk_forward import Fit, make_folds, run_walk_forward
from stock_lstm.ml_models.model_types import (
    BASELINES,
    MODEL_TYPES,
    NETWORKS,
    model_type_of,
)


def model_fits(models: list[str], training: Mapping[str, Any]) -> dict[str, Fit]:
    """The fit of every model named in `backtest.models` (networks use `training`'s knobs)."""
    for name in models:
        if name not in MODEL_TYPES:
            raise InputError(
                f"backtest.models: unknown model {name!r}; use network types "
                f"{', '.join(NETWORKS)} or baselines {', '.join(BASELINES)}"
            )
    return {name: MODEL_TYPES[name].fold_fit(name, training) for name in models}


def run_backtest(
    features: pd.DataFrame, backtest: Mapping[str, Any], training: Mapping[str, Any]
) -> dict[str, Any]:
    """Every model of `backtest.models` on the same walk-forward folds of the stored tickers."""
    max_horizon = int(training["model"]["max_horizon"])
    steps = [int(k) for k in backtest["report_steps"]]
    if any(not 1 <= k <= max_horizon for k in steps):
        raise InputError(
            f"backtest.report_steps {steps} must lie in 1..training.model.max_horizon "
            f"({max_horizon})"
        )
    folds = make_folds(
        features,
        int(backtest["folds"]),
        float(backtest["test_share"]),
        int(backtest["validation_days"]),
    )
    models = list(backtest["models"])
    report = run_walk_forward(
        features,
        folds,
        model_fits(models, training),
        baselines=[name for name in models if name in BASELINES],
        window=int(training["model"]["window"]),
        steps=steps,
        level=float(training["intervals"]["level"]),
        refit_every=int(backtest["refit_every"]),
    )
    return {
        "data_version": features.attrs.get("version_id"),
        "served_model_type": model_type_of(training),
        **report,
    }


def archive_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """The same report for the Kedro-versioned entry: backtest.json keeps only the latest."""
    return dict(report)
