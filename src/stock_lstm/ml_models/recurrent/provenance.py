"""Proof that a model, scaler and calibration are of one training run, on the features it used.

Training records the fingerprints in the interval calibration; evaluation recomputes them from
what it loaded, so artifacts of different runs are never mixed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.scaling import scaler_stats


def artifact_fingerprints(model: Any, scaler: Any) -> dict[str, str]:
    """sha256 of the model's weights and of the scaler's statistics.

    Recorded in the interval calibration by training; evaluation recomputes them from the
    model and scaler it loaded, so a model, scaler and calibration of different training runs
    (e.g. the newest scaler of a run that failed before saving its model) are never mixed.
    """
    weights = hashlib.sha256()
    for array in model.get_weights():
        weights.update(np.ascontiguousarray(array, dtype="float32").tobytes())
    mean, scale = scaler_stats(scaler)
    stats = hashlib.sha256(np.array([mean, scale], dtype="float64").tobytes())
    return {"model_weights_sha256": weights.hexdigest(), "scaler_sha256": stats.hexdigest()}


def check_same_run(
    model: Any, scaler: Any, calibration: Mapping[str, Any], features: pd.DataFrame
) -> str:
    """The model version evaluated: that of the calibration, once the loaded model and scaler
    are proven to be the ones it was calibrated with, and `features` the version they were
    trained on. Raises InputError naming what differs."""
    version = calibration.get("model_version")
    recorded = calibration.get("fingerprints")
    if not version or not recorded:
        raise InputError(
            "interval_calibration records no model_version/fingerprints (made by an older "
            "training pipeline): run `kedro run --pipelines training,evaluation`"
        )
    pin = (
        f"pin one version for all: --load-versions lstm_model:{version},scaler:{version},"
        f"interval_calibration:{version},training_history:{version}"
    )
    actual = artifact_fingerprints(model, scaler)
    for key, name in (("model_weights_sha256", "lstm_model"), ("scaler_sha256", "scaler")):
        if actual[key] != recorded.get(key):
            raise InputError(
                f"the loaded {name} is not the one interval_calibration version {version} was "
                f"made with (another training run, e.g. one that failed half-way): run "
                f"`kedro run --pipelines training,evaluation`, or {pin}"
            )
    trained, evaluated = calibration.get("data_version"), features.attrs.get("version_id")
    if trained is not None and evaluated != trained:
        raise InputError(
            f"features version {evaluated} differs from the version the model was trained on "
            f"({trained}): run `kedro run --pipelines training,evaluation` or pin "
            f"--load-versions features:{trained}"
        )
    return str(version)
