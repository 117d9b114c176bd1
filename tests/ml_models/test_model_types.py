"""The one table of model types: every entry is usable, the backtest and training read only it,
and a network's results are reported under its own type."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.scaling import fit_scaler
from stock_lstm.ml_models.model_types import (
    BASELINES,
    MODEL_TYPES,
    NETWORKS,
    model_type_of,
    network_type,
)
from stock_lstm.ml_models.recurrent.calibration import calibrate_intervals
from stock_lstm.ml_models.recurrent.evaluate import evaluate_model
from stock_lstm.ml_models.recurrent.keras_training import build_network
from stock_lstm.pipelines.backtest.nodes import model_fits
from tests.ml_models.conftest import random_walk_features

FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}
TRAINING = {
    "model_type": "gru",
    "split": FRACTIONS,
    "model": {"window": 12, "max_horizon": 5, "units": 4},
    "intervals": {"level": 0.9, "vol_window": 12, "scope": "pooled"},
}


def test_the_table_names_the_networks_and_the_baselines() -> None:
    assert NETWORKS == ("lstm", "gru")
    assert BASELINES == ("naive", "drift", "median_drift", "garch", "ets", "lightgbm")
    for name in NETWORKS:
        model = build_network(name, TRAINING["model"])
        assert model.name == f"{name}_forecaster"
        assert model.input_shape == (None, 12, 1) and model.output_shape == (None, 5)


def test_the_backtest_fits_every_model_of_the_table_and_refuses_others() -> None:
    fits = model_fits(list(MODEL_TYPES), TRAINING)
    assert set(fits) == set(MODEL_TYPES)
    assert all(callable(fit) for fit in fits.values())
    with pytest.raises(InputError, match=r"unknown model 'tcn'; use network types lstm, gru"):
        model_fits(["naive", "tcn"], TRAINING)
    with pytest.raises(InputError, match="training.model_type 'naive' is unknown"):
        network_type("naive")


def test_the_model_type_is_the_parameter() -> None:
    assert model_type_of(TRAINING) == "gru"
    assert model_type_of({"model_type": "lstm"}) == "lstm"
    assert model_type_of({}) == "lstm"  # records from before model_type: the LSTM


def test_the_table_imports_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "import stock_lstm.ml_models.model_types\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_grus_evaluation_is_reported_under_gru() -> None:
    features = random_walk_features({"AAA": 1500, "BBB": 1500}, sigma=0.01, seed=11)
    scaler = fit_scaler(features, FRACTIONS)
    model = build_network("gru", TRAINING["model"])  # untrained: the naive forecast
    calibration = calibrate_intervals(model, scaler, features, TRAINING, "v1")
    assert calibration["model_type"] == "gru"
    report, _, _ = evaluate_model(
        model, scaler, calibration, features, FRACTIONS, {"report_steps": [1]}
    )
    assert report["model_type"] == "gru"
    step = report["tickers"]["AAA"]["h1"]
    assert "lstm" not in step
    assert step["gru"]["mae"] == pytest.approx(step["naive"]["mae"], rel=1e-6)
