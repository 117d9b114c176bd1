"""Fit the LSTM on training windows, with early stopping on validation windows.

Nothing of validation or test touches fitting: the scaler comes from training rows only
(preprocess.fit_scaler), validation only decides when to stop and which weights to keep, and
the test split is left for evaluation. Seeded and deterministic: two runs give the same model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from stock_lstm.ml_models.lstm_model.model import build_from_params
from stock_lstm.ml_models.lstm_model.preprocess import build_windows, split_dates

logger = logging.getLogger(__name__)


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and force deterministic ops: same data, same model."""
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def train_lstm(
    features: pd.DataFrame,
    scaler: Any,
    params: Mapping[str, Any],
    model_version: str | None = None,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train on the training windows; keep the weights with the best validation loss.

    The untrained model is the naive forecast (model.py), so "epoch 0" is a candidate too:
    when no epoch beats it on validation, the naive weights are kept, and the history says so.
    Returns the model and a JSON-able history (losses per epoch, timings, window counts, the
    split's cut-off dates and the run's model version, i.e. its Kedro save version).
    """
    model_params, fit = params["model"], params["fit"]
    window, max_horizon = int(model_params["window"]), int(model_params["max_horizon"])
    make_deterministic(int(fit["seed"]))
    train = build_windows(features, scaler, params["split"], "train", window, max_horizon)
    validation = build_windows(features, scaler, params["split"], "validation", window, max_horizon)
    model = build_from_params(model_params)
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
    logger.info(
        "trained %d epoch(s) in %.1f s (%.2f s/epoch) on %d windows; best epoch %d "
        "(validation loss %.5f, naive %.5f)",
        epochs_run,
        seconds,
        seconds / max(epochs_run, 1),
        len(train.x),
        best_epoch,
        min(val_losses + [initial_val_loss]),
        initial_val_loss,
    )
    history = {
        "trained_at": datetime.now(UTC).isoformat(),
        "loss": [float(v) for v in fitted.history["loss"]],
        "val_loss": val_losses,
        "initial_val_loss": initial_val_loss,
        "best_epoch": best_epoch,
        "kept_naive_weights": kept_naive,
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
