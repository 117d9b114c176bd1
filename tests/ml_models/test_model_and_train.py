"""The architecture starts as the naive forecast; training is seeded and reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_lstm.ml_models.lstm_model.model import build_model
from stock_lstm.ml_models.lstm_model.preprocess import fit_scaler
from stock_lstm.ml_models.lstm_model.train import train_lstm

PARAMS = {
    "split": {"train": 0.70, "validation": 0.15, "test": 0.15},
    "model": {"window": 10, "max_horizon": 3, "units": 4, "loss": "mae", "learning_rate": 0.01},
    "fit": {"seed": 3, "epochs": 3, "batch_size": 128, "patience": 2},
}


def test_untrained_model_is_the_naive_forecast() -> None:
    model = build_model(10, 3, units=4)
    out = model.predict(np.random.default_rng(0).normal(size=(5, 10, 1)), verbose=0)
    np.testing.assert_array_equal(out, np.zeros((5, 3)))


def test_unknown_loss_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown loss 'mape'"):
        build_model(10, 3, loss="mape")


def test_training_is_reproducible_and_keeps_the_best_validation_weights(
    snapshot_features: pd.DataFrame,
) -> None:
    snapshot_features.attrs["version_id"] = 9
    scaler = fit_scaler(snapshot_features, PARAMS["split"])
    model_a, history_a = train_lstm(snapshot_features, scaler, PARAMS)
    model_b, history_b = train_lstm(snapshot_features, scaler, PARAMS)
    for a, b in zip(model_a.get_weights(), model_b.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert history_a["val_loss"] == history_b["val_loss"]
    assert history_a["data_version"] == 9
    assert history_a["epochs_run"] == len(history_a["val_loss"]) <= 3
    best = min(history_a["val_loss"] + [history_a["initial_val_loss"]])
    if history_a["kept_naive_weights"]:
        assert history_a["best_epoch"] == 0
    else:
        assert history_a["val_loss"][history_a["best_epoch"] - 1] == best
    assert history_a["n_train_windows"] > 0 and history_a["n_validation_windows"] > 0
