"""Scaling of log returns: the scaler fitted on training rows only, its JSON form for serving,
and the model's scaled inputs and target divisors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from stock_lstm.common.lazy import lazy_module
from stock_lstm.ml_models.common.series import PreprocessError
from stock_lstm.ml_models.common.splits import SplitSpec, assign_splits

if TYPE_CHECKING:  # sklearn is imported where fitted: the API scales with the JSON parameters
    import pandas as pd
    from sklearn.preprocessing import StandardScaler
else:  # what the annotations resolve to at run time (Kedro reads a node's type hints)
    pd = lazy_module("pandas")  # imported on first use: the API needs only the numpy functions
    StandardScaler = Any


def fit_scaler(features: pd.DataFrame, fractions: SplitSpec) -> StandardScaler:
    """A StandardScaler of log returns fitted on the TRAINING rows of every ticker only.

    Validation and test rows never touch it: their statistics would leak the future.
    """
    from sklearn.preprocessing import StandardScaler

    split = assign_splits(features, fractions)
    train = split.loc[split["split"] == "train", "log_return"].to_numpy(dtype="float64")
    train = train[np.isfinite(train)]
    if train.size < 2:
        raise PreprocessError("too few training rows to fit the scaler (need at least 2 returns)")
    return StandardScaler().fit(train.reshape(-1, 1))


def scaler_stats(scaler: StandardScaler | Mapping[str, Any]) -> tuple[float, float]:
    """(mean, scale) of a fitted one-feature scaler, or of its JSON `scaler_parameters`."""
    if isinstance(scaler, Mapping):
        return float(scaler["mean"][0]), float(scaler["scale"][0])
    return float(scaler.mean_[0]), float(scaler.scale_[0])


def scaler_parameters(scaler: StandardScaler) -> dict[str, Any]:
    """The fitted scaler as JSON (the `scaler_params` artifact): what serving needs, without
    unpickling anything."""
    return {
        "kind": "standard",
        "mean": [float(v) for v in scaler.mean_],
        "scale": [float(v) for v in scaler.scale_],
    }


def scale_inputs(returns: np.ndarray, scaler: StandardScaler) -> np.ndarray:
    """Log returns (..., window) → the model's input (..., window, 1), float32."""
    mean, scale = scaler_stats(scaler)
    return ((returns - mean) / scale)[..., np.newaxis].astype("float32")


def target_divisors(scaler: StandardScaler, max_horizon: int) -> np.ndarray:
    """Per-step divisors of the cumulative-log-return targets: scale * sqrt(k).

    Not centred: an output of zero means "no change", i.e. the naive forecast. Dividing by
    sqrt(k) gives every step a target of about unit spread, so no step dominates the loss.
    """
    _, scale = scaler_stats(scaler)
    return scale * np.sqrt(np.arange(1, max_horizon + 1, dtype="float64"))
