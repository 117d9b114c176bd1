"""The one table of model types: what `training.model_type` and `backtest.models` may name.

Adding a model is one entry here. A network entry names the module of its Keras architecture
(the module's `build_model`), imported only when the network is built, as Kedro's catalog
names a dataset `type:`; so this table, and what reads it, stays TensorFlow-free. A baseline
entry is its fit function (common/baselines.py). Which network `kedro run` trains comes from
the parameters (`training.model_type`, conf/base/parameters_training.yml).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.baselines import fit_drift, fit_garch, fit_median_drift, fit_naive
from stock_lstm.ml_models.common.classical import fit_ets
from stock_lstm.ml_models.common.gradient_boosting import fit_lightgbm
from stock_lstm.ml_models.common.walk_forward import Fit

# What a parameters block, training history or calibration from before `model_type` was
# recorded trained: the LSTM was then the only network.
LEGACY_MODEL_TYPE = "lstm"


@dataclass(frozen=True)
class ModelType:
    """A network (`architecture`: the module whose `build_model(window, max_horizon, **knobs)`
    builds it) or a baseline (`baseline`: its `fit(features, cutoffs, params)`)."""

    architecture: str | None = None
    baseline: Callable[..., Any] | None = None

    @property
    def is_network(self) -> bool:
        return self.architecture is not None

    def builder(self) -> Callable[..., Any]:
        """The network's Keras `build_model` (imports the architecture, hence TensorFlow)."""
        if self.architecture is None:
            raise InputError("a baseline has no network to build")
        return importlib.import_module(self.architecture).build_model

    def fold_fit(
        self, name: str, training: Mapping[str, Any], knobs: Mapping[str, Any] | None = None
    ) -> Fit:
        """The walk-forward fit of this model with the `training` block's knobs (and, for a
        baseline that has some, its own `knobs`: backtest.<model>)."""
        if self.architecture is not None:
            # TensorFlow is imported only when a network is fitted.
            from stock_lstm.ml_models.recurrent.keras_training import fit_network

            return partial(fit_network, name, training)
        assert self.baseline is not None
        extra = {"knobs": dict(knobs)} if knobs else {}
        return partial(self.baseline, params=baseline_params(training), **extra)


MODEL_TYPES: dict[str, ModelType] = {
    "lstm": ModelType(architecture="stock_lstm.ml_models.lstm_model.model"),
    "gru": ModelType(architecture="stock_lstm.ml_models.gru_model.model"),
    "naive": ModelType(baseline=fit_naive),
    "drift": ModelType(baseline=fit_drift),
    "median_drift": ModelType(baseline=fit_median_drift),
    "garch": ModelType(baseline=fit_garch),
    "ets": ModelType(baseline=fit_ets),
    "lightgbm": ModelType(baseline=fit_lightgbm),
}

NETWORKS = tuple(name for name, kind in MODEL_TYPES.items() if kind.is_network)
BASELINES = tuple(name for name, kind in MODEL_TYPES.items() if not kind.is_network)


def network_type(name: str) -> ModelType:
    """The table's entry of network `name` (raises InputError naming the choices)."""
    if name not in NETWORKS:
        raise InputError(
            f"training.model_type {name!r} is unknown: use one of {', '.join(sorted(NETWORKS))}"
        )
    return MODEL_TYPES[name]


def model_type_of(record: Mapping[str, Any]) -> str:
    """The network a `training` parameters block (or a history or calibration it made) names:
    its `model_type`; one written before the key existed trained the LSTM."""
    return str(record.get("model_type", LEGACY_MODEL_TYPE))


def baseline_params(training: Mapping[str, Any]) -> dict[str, Any]:
    """A baseline's knobs, from the `training` block the networks use: same window, horizon and
    intervals, so every model of a report is judged on equal terms."""
    return {
        "window": int(training["model"]["window"]),
        "max_horizon": int(training["model"]["max_horizon"]),
        "level": float(training["intervals"]["level"]),
        "vol_window": int(training["intervals"]["vol_window"]),
        "scope": str(training["intervals"].get("scope", "pooled")),
    }
