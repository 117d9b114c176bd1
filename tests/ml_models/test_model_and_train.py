"""The architecture starts as the naive forecast; training is seeded and reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.scaling import fit_scaler
from stock_lstm.ml_models.common.series import add_log_returns
from stock_lstm.ml_models.lstm_model.model import build_model
from stock_lstm.ml_models.recurrent.keras_training import train_model

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
    model_a, history_a = train_model(snapshot_features, scaler, PARAMS, "run-a")
    model_b, history_b = train_model(snapshot_features, scaler, PARAMS)
    for a, b in zip(model_a.get_weights(), model_b.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert history_a["val_loss"] == history_b["val_loss"]
    assert history_a["data_version"] == 9 and history_a["model_version"] == "run-a"
    assert set(history_a["split"]) >= {"validation_start", "test_start"}
    assert history_a["epochs_run"] == len(history_a["val_loss"]) <= 3
    best = min(history_a["val_loss"] + [history_a["initial_val_loss"]])
    if history_a["kept_naive_weights"]:
        assert history_a["best_epoch"] == 0
    else:
        assert history_a["val_loss"][history_a["best_epoch"] - 1] == best
    assert history_a["n_train_windows"] > 0 and history_a["n_validation_windows"] > 0
    assert history_a["model_type"] == "lstm"  # the default when training.model_type is absent


def test_naive_weights_are_kept_when_no_epoch_beats_them_on_validation() -> None:
    """Training rises steadily, validation falls: whatever drift training learns is worse on
    validation than "no change", so the untrained (naive) weights must be kept."""
    rng = np.random.default_rng(1)
    rows = 400
    drift = np.where(np.arange(rows) < 280, 0.004, -0.004)
    closes = 100 * np.exp(np.cumsum(drift + rng.normal(0, 0.001, rows)))
    features = add_log_returns(
        pd.DataFrame(
            {"ticker": "UP", "date": pd.bdate_range("2010-01-01", periods=rows), "close": closes}
        )
    )
    params = {**PARAMS, "fit": {**PARAMS["fit"], "epochs": 4}}
    scaler = fit_scaler(features, params["split"])
    model, history = train_model(features, scaler, params)
    assert history["kept_naive_weights"] is True and history["best_epoch"] == 0
    assert min(history["val_loss"]) >= history["initial_val_loss"]
    out = model.predict(rng.normal(size=(3, 10, 1)), verbose=0)
    np.testing.assert_array_equal(out, np.zeros((3, 3)))


def test_model_type_chooses_the_architecture(snapshot_features: pd.DataFrame) -> None:
    scaler = fit_scaler(snapshot_features, PARAMS["split"])
    one_epoch = {**PARAMS, "fit": {**PARAMS["fit"], "epochs": 1}}  # the architecture is the point
    model, history = train_model(snapshot_features, scaler, {**one_epoch, "model_type": "gru"})
    assert history["model_type"] == "gru"
    assert any(layer.name.startswith("gru") for layer in model.layers)
    with pytest.raises(
        InputError, match="training.model_type 'tcn' is unknown: use one of gru, lstm"
    ):
        train_model(snapshot_features, scaler, {**PARAMS, "model_type": "tcn"})
