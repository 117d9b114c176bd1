"""Metrics against hand-computed values, the naive baseline and split-conformal coverage."""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.baselines import naive_forecast
from stock_lstm.ml_models.common.intervals import conformal_quantile
from stock_lstm.ml_models.common.metrics import (
    coverage,
    directional_accuracy,
    mae,
    mape,
    mean_width,
    rmse,
)
from stock_lstm.ml_models.common.scaling import fit_scaler
from stock_lstm.ml_models.recurrent.calibration import calibrate_intervals
from stock_lstm.ml_models.recurrent.evaluate import evaluate_model, model_version_record
from tests.helpers.database import crud_on
from tests.ml_models.conftest import random_walk_features

FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}


def test_metrics_match_hand_computed_values() -> None:
    origin = np.array([100.0, 100.0, 100.0, 100.0])
    actual = np.array([102.0, 97.0, 100.0, 104.0])
    forecast = np.array([101.0, 99.0, 101.0, 100.0])
    assert mae(actual, forecast) == pytest.approx((1 + 2 + 1 + 4) / 4)
    assert rmse(actual, forecast) == pytest.approx(math.sqrt((1 + 4 + 1 + 16) / 4))
    assert mape(actual, forecast) == pytest.approx(100 * (1 / 102 + 2 / 97 + 1 / 100 + 4 / 104) / 4)
    # up/up right, down/down right, flat/up wrong, up/flat wrong
    assert directional_accuracy(origin, actual, forecast) == pytest.approx(0.5)
    lower, upper = forecast - 1.5, forecast + 1.5
    assert coverage(actual, lower, upper) == pytest.approx(0.5)  # errors 1, 2, 1, 4
    assert mean_width(lower, upper) == pytest.approx(3.0)


def test_naive_forecast_repeats_the_last_close() -> None:
    past = np.array([[1.0, 2.0, 3.0], [5.0, 4.0, 6.5]])
    np.testing.assert_array_equal(naive_forecast(past, 3), [[3.0] * 3, [6.5] * 3])


def test_conformal_quantile_is_the_finite_sample_rank() -> None:
    scores = np.arange(1.0, 11.0)[::-1]  # order must not matter
    assert conformal_quantile(scores, 0.9) == 10.0  # ceil(11 * 0.9) = 10th smallest
    assert conformal_quantile(scores, 0.5) == 6.0  # ceil(5.5) = 6th
    assert conformal_quantile(scores[:5], 0.9) == math.inf  # too few for the guarantee
    with pytest.raises(ValueError, match="level"):
        conformal_quantile(scores, 1.0)


def test_conformal_coverage_on_known_noise() -> None:
    """|N(0,1)| scores: the calibrated quantile nears 1.645 and covers ~90% of fresh draws."""
    rng = np.random.default_rng(3)
    q = conformal_quantile(np.abs(rng.normal(size=4000)), 0.9)
    assert q == pytest.approx(1.645, abs=0.06)
    fresh = rng.normal(size=20000)
    assert coverage(fresh, -q * np.ones_like(fresh), q * np.ones_like(fresh)) == pytest.approx(
        0.9, abs=0.015
    )


def untrained_lstm():
    """A tiny untrained LSTM. Keras is imported here, not at collection (5 s in every worker)."""
    from stock_lstm.ml_models.lstm_model.model import build_model

    return build_model(12, 5, units=4)


@pytest.fixture
def naive_model_setup():
    """A random walk and an untrained model, which IS the naive forecast (zero output)."""
    features = random_walk_features({"AAA": 1500, "BBB": 1500}, sigma=0.01, seed=11)
    scaler = fit_scaler(features, FRACTIONS)
    model = untrained_lstm()
    params = {"split": FRACTIONS, "intervals": {"level": 0.9, "vol_window": 12}}
    return features, scaler, model, params


def test_interval_calibration_and_report_on_a_random_walk(naive_model_setup) -> None:
    features, scaler, model, params = naive_model_setup
    features.attrs["version_id"] = 42
    calibration = calibrate_intervals(model, scaler, features, params, "v1")
    assert calibration["window"] == 12 and calibration["max_horizon"] == 5
    assert calibration["data_version"] == 42 and calibration["model_version"] == "v1"
    dates = pd.bdate_range("2001-01-01", periods=1500)
    split = {"validation_start": dates[1050], "test_start": dates[1275]}
    assert {k: calibration["split"][k] for k in split} == {
        k: f"{d:%Y-%m-%d}" for k, d in split.items()
    }
    q = calibration["quantiles"]
    assert len(q) == 5 and all(a < b for a, b in zip(q, q[1:], strict=False))
    # Step k's cumulative return has spread sigma*sqrt(k): q_k/q_1 ~ sqrt(k).
    assert q[3] / q[0] == pytest.approx(2.0, rel=0.2)
    report, figures, overview = evaluate_model(
        model, scaler, calibration, features, FRACTIONS, {"report_steps": [1, 5]}
    )
    assert report["model_version"] == "v1" and report["data_version"] == 42
    assert report["split"] == calibration["split"]
    json.dumps(report, allow_nan=False)  # standard JSON
    assert set(report["tickers"]) == {"AAA", "BBB"} and set(figures) == {"AAA.png", "BBB.png"}
    for entry in report["tickers"].values():
        assert entry["n_test"] == 225
        for k in (1, 5):
            step = entry[f"h{k}"]
            assert step["mae_ratio"] == pytest.approx(1.0, abs=1e-6)  # the model is naive
            assert step["lstm"]["mae"] == pytest.approx(step["naive"]["mae"], rel=1e-6)
            assert 0.84 <= step["interval"]["coverage"] <= 0.96
            assert step["interval"]["level"] == 0.9
        assert entry["h1"]["n"] == 224 and entry["h5"]["n"] == 220


def test_naive_metrics_use_the_same_origins_and_targets(naive_model_setup) -> None:
    features, scaler, model, params = naive_model_setup
    calibration = calibrate_intervals(model, scaler, features, params, "v")
    report, _, _ = evaluate_model(
        model, scaler, calibration, features, FRACTIONS, {"report_steps": [5]}
    )
    closes = features.loc[features["ticker"] == "AAA", "close"].to_numpy()
    test_start = int(round(1500 * 0.85))
    origins = np.arange(test_start, 1500 - 5)
    expected = np.mean(np.abs(closes[origins + 5] - closes[origins]))
    step = report["tickers"]["AAA"]["h5"]
    assert step["naive"]["mae"] == pytest.approx(expected, rel=1e-12)
    # drift: mu = mean daily log return of the training rows (first 1050 of each), pooled
    returns = features.sort_values(["ticker", "date"]).groupby("ticker")["log_return"]
    mu = np.nanmean(np.concatenate([r.to_numpy()[:1050] for _, r in returns]))
    assert report["drift_mu"] == pytest.approx(mu, rel=1e-12)
    drift = closes[origins] * np.exp(5 * mu)
    assert step["drift"]["mae"] == pytest.approx(
        np.mean(np.abs(closes[origins + 5] - drift)), rel=1e-12
    )
    assert step["drift"]["mae_ratio"] == pytest.approx(step["drift"]["mae"] / expected)
    assert step["mae_ratio_drift"] == pytest.approx(step["lstm"]["mae"] / step["drift"]["mae"])


def test_report_steps_beyond_the_model_are_refused(naive_model_setup) -> None:
    features, scaler, model, params = naive_model_setup
    calibration = calibrate_intervals(model, scaler, features, params, "v")
    with pytest.raises(InputError, match=r"report_steps \[30\]"):
        evaluate_model(model, scaler, calibration, features, FRACTIONS, {"report_steps": [30]})


def test_unused_frame_columns_do_not_matter(naive_model_setup) -> None:
    features, scaler, model, params = naive_model_setup
    with_extra = features.assign(extra="x").sample(frac=1.0, random_state=0)
    a = calibrate_intervals(model, scaler, features, params)["quantiles"]
    b = calibrate_intervals(model, scaler, with_extra, params)["quantiles"]
    assert a == b
    assert isinstance(with_extra, pd.DataFrame)


def test_a_model_scaler_or_features_of_another_run_is_refused(naive_model_setup) -> None:
    """After a failed training run the newest scaler may be of that run while the newest
    model is of an earlier one: evaluation must not mix them."""
    features, scaler, model, params = naive_model_setup
    features.attrs["version_id"] = 3
    calibration = calibrate_intervals(model, scaler, features, params, "run-1")
    steps = {"report_steps": [1]}
    other_scaler = fit_scaler(features.iloc[: len(features) // 2], FRACTIONS)
    with pytest.raises(InputError, match="loaded scaler is not the one .* version run-1"):
        evaluate_model(model, other_scaler, calibration, features, FRACTIONS, steps)
    other_model = untrained_lstm()
    kernel, bias = other_model.layers[-1].get_weights()
    other_model.layers[-1].set_weights([kernel + 0.01, bias])
    with pytest.raises(InputError, match="loaded lstm_model is not the one .* version run-1"):
        evaluate_model(other_model, scaler, calibration, features, FRACTIONS, steps)
    newer = features.copy()
    newer.attrs["version_id"] = 4
    with pytest.raises(
        InputError,
        match=r"features version 4 differs from the version the model was trained on \(3\).*"
        r"features:3",
    ):
        evaluate_model(model, scaler, calibration, newer, FRACTIONS, steps)
    report, _, _ = evaluate_model(model, scaler, calibration, features, FRACTIONS, steps)
    assert report["model_version"] == "run-1"
    history = {"trained_at": "2026-01-01T00:00:00+00:00", "model_version": "run-0"}
    with pytest.raises(InputError, match="training_history is of model version run-0"):
        model_version_record(report, calibration, history, params)
    record = model_version_record(report, calibration, {**history, "model_version": "run-1"}, {})
    assert record["model_version"] == "run-1" and record["data_version_id"] == 3
    assert record["parameters"]["model_type"] == "lstm"  # histories before model_type: lstm
    gru = {**history, "model_version": "run-1", "model_type": "gru"}
    assert model_version_record(report, calibration, gru, {})["parameters"]["model_type"] == "gru"


def test_a_report_step_without_test_origins_is_refused(naive_model_setup) -> None:
    """SHORT covers only AAA's last 30 days, so the common period is those 30 days: the test
    split is their last 4 (from position round(30 * 0.85) = 26), origins 26..28 for step 1,
    none with a step-5 target inside the split, for either ticker."""
    features, scaler, model, params = naive_model_setup
    aaa = features[features["ticker"] == "AAA"]
    mixed = pd.concat([aaa, aaa.tail(30).assign(ticker="SHORT")], ignore_index=True)
    # Too few validation days in `mixed` to calibrate: the (split-free) calibration of AAA/BBB.
    calibration = {**calibrate_intervals(model, scaler, features, params, "v"), "split": None}
    report, _, _ = evaluate_model(
        model, scaler, calibration, mixed, FRACTIONS, {"report_steps": [1]}
    )
    assert report["tickers"]["SHORT"]["h1"]["n"] == 3 and report["tickers"]["AAA"]["n_test"] == 4
    with pytest.raises(InputError, match=r"report step 5: ticker\(s\) AAA, SHORT have no test"):
        evaluate_model(model, scaler, calibration, mixed, FRACTIONS, {"report_steps": [1, 5]})


def test_a_flat_test_period_gives_none_not_nan(naive_model_setup, database_url: str) -> None:
    """Naive MAE 0 (a flat series): the ratio is undefined, stored as None (JSON null), which
    the model_versions row takes on SQLite and PostgreSQL (whose JSON rejects NaN)."""
    features, scaler, model, params = naive_model_setup
    flat = features[features["ticker"] == "AAA"].assign(ticker="FLAT", close=50.0)
    mixed = pd.concat([features, flat], ignore_index=True)
    calibration = calibrate_intervals(model, scaler, mixed, params, "v")
    report, _, _ = evaluate_model(
        model, scaler, calibration, mixed, FRACTIONS, {"report_steps": [1]}
    )
    assert report["tickers"]["FLAT"]["h1"]["naive"]["mae"] == 0.0
    assert report["tickers"]["FLAT"]["h1"]["mae_ratio"] is None
    assert report["summary"]["h1"]["max_mae_ratio"] == max(
        report["tickers"][t]["h1"]["mae_ratio"] for t in ("AAA", "BBB")
    )
    json.dumps(report, allow_nan=False)
    history = {"trained_at": "2026-01-01T00:00:00+00:00", "model_version": "v"}
    record = model_version_record(report, calibration, history, params)
    crud_on(database_url).record_model_version(
        model_version=record["model_version"],
        trained_at=datetime.fromisoformat(record["trained_at"]),
        data_version_id=None,
        parameters=record["parameters"],
        metrics=record["metrics"],
        model_sha256="0" * 64,
        scaler_sha256="0" * 64,
    )
    row = crud_on(database_url).get_model_version("v")
    assert row.metrics["tickers"]["FLAT"]["h1"]["mae_ratio"] is None
