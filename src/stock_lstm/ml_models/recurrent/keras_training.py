"""Fit a Keras forecaster (LSTM or GRU, `training.model_type`) on training windows, with early
stopping on validation windows; and the same fit as a walk-forward fold model for the backtest.

Nothing of validation or test touches fitting: the scaler comes from training rows only
(common/scaling.fit_scaler), validation only decides when to stop and which weights to keep, and
the test split is left for evaluation. Seeded and deterministic: two runs give the same model.

TensorFlow is imported when a network is built, trained or run, not with this module: the
training pipeline names `train_model`, and every `kedro` command registers every pipeline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stock_lstm.ml_models.common.intervals import Bands
from stock_lstm.ml_models.common.origins import SplitOrigins
from stock_lstm.ml_models.common.scaling import fit_scaler
from stock_lstm.ml_models.common.significance import diebold_mariano
from stock_lstm.ml_models.common.splits import SplitDates, split_dates
from stock_lstm.ml_models.common.windows import build_windows
from stock_lstm.ml_models.model_types import model_type_of, network_type
from stock_lstm.ml_models.recurrent.calibration import calibrate_intervals

if TYPE_CHECKING:
    from keras import Model

    from stock_lstm.ml_models.recurrent.inference import KerasForecaster
else:  # what Kedro resolves train_model's type hints to: no TensorFlow import for that
    Model = Any

logger = logging.getLogger(__name__)


def build_network(model_type: str, model_params: Mapping[str, Any]) -> Model:
    """The compiled, untrained network of `model_type` (raises InputError naming the choices)."""
    from stock_lstm.ml_models.recurrent.network import build_from_params  # Keras (TensorFlow)

    return build_from_params(network_type(model_type).builder(), model_params)


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and force deterministic ops: same data, same model."""
    import keras  # TensorFlow: imported when a network is trained
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def train_model(
    features: pd.DataFrame,
    scaler: Any,
    params: Mapping[str, Any],
    model_version: str | None = None,
) -> tuple[Model, dict[str, Any]]:
    """Train on the training windows; keep the weights with the best validation loss.

    The untrained model is the naive forecast (model.py), so "epoch 0" is a candidate too:
    when no epoch beats it on validation, the naive weights are kept, and the history says so.
    Returns the model and a JSON-able history (losses per epoch, timings, window counts, the
    split's cut-off dates and the run's model version, i.e. its Kedro save version).
    """
    import keras  # TensorFlow: imported when a network is trained, not with the pipelines

    model_params, fit = params["model"], params["fit"]
    window, max_horizon = int(model_params["window"]), int(model_params["max_horizon"])
    make_deterministic(int(fit["seed"]))
    train = build_windows(features, scaler, params["split"], "train", window, max_horizon)
    validation = build_windows(features, scaler, params["split"], "validation", window, max_horizon)
    model_type = model_type_of(params)
    model = build_network(model_type, model_params)
    batch_size = int(fit["batch_size"])
    initial_weights = model.get_weights()
    initial_val_loss = float(
        model.evaluate(validation.x, validation.y, batch_size=batch_size, verbose=0)[0]
    )
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        patience=int(fit["patience"]),
        min_delta=float(fit.get("min_delta", 0.0)),
        restore_best_weights=True,
    )
    started = time.perf_counter()
    fitted = model.fit(
        train.x,
        train.y,
        validation_data=(validation.x, validation.y),
        epochs=int(fit["epochs"]),
        batch_size=batch_size,
        shuffle=True,
        callbacks=[stopper],
        verbose=int(fit.get("verbose", 0)),
    )
    seconds = time.perf_counter() - started
    val_losses = [float(v) for v in fitted.history["val_loss"]]
    best_epoch = int(np.argmin(val_losses)) + 1
    kept_naive = min(val_losses) >= initial_val_loss
    if kept_naive:
        model.set_weights(initial_weights)
        best_epoch = 0
    epochs_run = len(val_losses)
    shrinkage = (
        shrink_toward_naive(
            model, validation.x, validation.y, batch_size, fit.get("skill_gate_level")
        )
        if fit.get("shrink_to_naive", False)
        else None
    )
    logger.info(
        "%s: trained %d epoch(s) in %.1f s (%.2f s/epoch) on %d windows; best epoch %d "
        "(validation loss %.5f, naive %.5f)",
        model_type,
        epochs_run,
        seconds,
        seconds / max(epochs_run, 1),
        len(train.x),
        best_epoch,
        min(val_losses + [initial_val_loss]),
        initial_val_loss,
    )
    if shrinkage is not None:
        logger.info(
            "%s: validation factors per step %s (skill gate level %s; p-values %s)",
            model_type,
            shrinkage["factors"],
            fit.get("skill_gate_level"),
            [round(p, 3) for p in shrinkage["p_values"]],
        )
    history = {
        "trained_at": datetime.now(UTC).isoformat(),
        "model_type": model_type,
        "loss": [float(v) for v in fitted.history["loss"]],
        "val_loss": val_losses,
        "initial_val_loss": initial_val_loss,
        "best_epoch": best_epoch,
        "kept_naive_weights": kept_naive,
        "shrinkage": shrinkage,
        "epochs_run": epochs_run,
        "seconds": round(seconds, 3),
        "seconds_per_epoch": round(seconds / max(epochs_run, 1), 3),
        "n_train_windows": len(train.x),
        "n_validation_windows": len(validation.x),
        "data_version": features.attrs.get("version_id"),
        "model_version": model_version,
        "split": split_dates(features, params["split"]).as_dict(),
    }
    return model, history


SHRINK_GRID = np.linspace(0.0, 1.0, 21)


def skill_p_values(model_errors: np.ndarray, naive_errors: np.ndarray) -> np.ndarray:
    """Per step k (column k-1), the one-sided Diebold–Mariano p-value of "the model's absolute
    error is smaller than naive's" on d = |e_model| - |e_naive|: the backtest's test
    (significance.diebold_mariano, alternative "less": HAC variance with at least k-1 lags, as
    overlapping k-step targets and volatility clustering make d autocorrelated, and the HLN
    correction). Small p = validation shows real skill; 1 where the model IS naive at that
    step or the test is undefined (too few windows): no skill shown.
    """
    differences = np.abs(model_errors) - np.abs(naive_errors)
    p_values = []
    for step, column in enumerate(differences.T, start=1):
        p_value = diebold_mariano(column, step, alternative="less").p_value
        p_values.append(1.0 if p_value is None else p_value)
    return np.array(p_values)


def shrink_toward_naive(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    skill_gate_level: float | None = None,
) -> dict[str, list[float]]:
    """Per step k, the factor a_k in [0, 1] (steps of 0.05) minimising the VALIDATION MAE of
    a_k * output_k, set to 0 where the skill gate is not passed, and folded into the linear
    head (its column k and bias k times a_k), so the exported model carries it.

    Zero output is the naive forecast, so a_k blends the network with naive where validation
    says the network's move is worth only part of its size (a_k = 0: naive at that step). The
    gate (`skill_gate_level`, None = off) keeps a_k only where a one-sided Diebold–Mariano test
    of the shrunk errors against naive's rejects "no better than naive" at that level: a model
    that cannot show skill on validation is the naive forecast there. Validation only.
    """
    output = model.predict(x, batch_size=batch_size, verbose=0).astype("float64")
    errors = np.stack([np.abs(a * output - y).mean(axis=0) for a in SHRINK_GRID])  # (grid, H)
    factors = SHRINK_GRID[np.argmin(errors, axis=0)]
    p_values = skill_p_values(factors * output - y, y)  # naive's error is -y (zero output)
    if skill_gate_level is not None:
        factors = np.where(p_values < float(skill_gate_level), factors, 0.0)
    head = model.layers[-1]
    kernel, bias = head.get_weights()
    head.set_weights([kernel * factors.astype(kernel.dtype), bias * factors.astype(bias.dtype)])
    return {"factors": [float(a) for a in factors], "p_values": [float(p) for p in p_values]}


# --- the same fit as a walk-forward fold model (backtest) ------------------------------------


@dataclass(frozen=True)
class NetworkFoldModel:
    """A network fitted for one fold, forecasting through the serving path (KerasForecaster)."""

    forecaster: KerasForecaster

    def forecast(self, ticker: str, period: SplitOrigins) -> Bands:
        found = self.forecaster.forecast_batch(period.histories, ticker)
        return Bands(close=found.close, lower=found.lower, upper=found.upper)


def fit_network_per_scope(
    model_type: str,
    params: Mapping[str, Any],
    features: pd.DataFrame,
    cutoffs: SplitDates,
    scopes: Sequence[str],
) -> dict[str, NetworkFoldModel]:
    """One fit as `kedro run` does it (scaler on training rows, early stopping), calibrated on
    validation once per interval scope: the interval-scope comparison fits each fold once."""
    from stock_lstm.ml_models.recurrent.inference import KerasForecaster  # TensorFlow

    fold_params = {**params, "model_type": model_type, "split": cutoffs}
    scaler = fit_scaler(features, cutoffs)
    model, _ = train_model(features, scaler, fold_params)
    fitted = {}
    for scope in scopes:
        scoped = {**fold_params, "intervals": {**fold_params["intervals"], "scope": scope}}
        calibration = calibrate_intervals(model, scaler, features, scoped)
        fitted[scope] = NetworkFoldModel(KerasForecaster(model, scaler, calibration))
    return fitted


def fit_network(
    model_type: str, params: Mapping[str, Any], features: pd.DataFrame, cutoffs: SplitDates
) -> NetworkFoldModel:
    """What `kedro run` does (scaler on training rows, fit with early stopping, conformal
    calibration on validation) on one fold's cut-offs; `params` is the `training` block."""
    scope = str(params["intervals"].get("scope", "pooled"))
    return fit_network_per_scope(model_type, params, features, cutoffs, [scope])[scope]
