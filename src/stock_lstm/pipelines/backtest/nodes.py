"""Glue: which fit each model name of `backtest.models` stands for, then the harness.

It belongs here because it is the one place that knows both the networks (keras_training,
TensorFlow) and the baselines (common/, TensorFlow-free) and their parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.baselines import BASELINES
from stock_lstm.ml_models.common.walk_forward import Fit, make_folds, run_walk_forward
from stock_lstm.ml_models.keras_training import ARCHITECTURES, fit_network


def model_fits(models: list[str], training: Mapping[str, Any]) -> dict[str, Fit]:
    """The fit of every model named in `backtest.models` (networks use `training`'s knobs)."""
    baseline_params = {
        "window": int(training["model"]["window"]),
        "max_horizon": int(training["model"]["max_horizon"]),
        "level": float(training["intervals"]["level"]),
        "vol_window": int(training["intervals"]["vol_window"]),
        "scope": str(training["intervals"].get("scope", "pooled")),
    }
    fits: dict[str, Fit] = {}
    for name in models:
        if name in ARCHITECTURES:
            fits[name] = partial(fit_network, name, training)
        elif name in BASELINES:
            fits[name] = partial(BASELINES[name], params=baseline_params)
        else:
            raise InputError(
                f"backtest.models: unknown model {name!r}; use network types "
                f"{', '.join(ARCHITECTURES)} or baselines {', '.join(BASELINES)}"
            )
    return fits


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
    report = run_walk_forward(
        features,
        folds,
        model_fits(list(backtest["models"]), training),
        window=int(training["model"]["window"]),
        steps=steps,
        level=float(training["intervals"]["level"]),
        refit_every=int(backtest["refit_every"]),
    )
    return {
        "data_version": features.attrs.get("version_id"),
        "served_model_type": str(training.get("model_type", "lstm")),
        **report,
    }


def archive_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """The same report for the Kedro-versioned entry: backtest.json keeps only the latest."""
    return dict(report)
