"""The monitoring node judges the registry's champion from its own files: its training end is
the calibration's `common_end` (its age decides retraining), and its shadow forecasts carry the
ticker's own bands. A fixed ONNX model stands in (no TensorFlow)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from stock_lstm.ml_models.serving.onnx_forecaster import OnnxForecaster
from stock_lstm.monitoring.scoring import FORECAST_COLUMNS
from stock_lstm.pipelines.monitoring.nodes import monitor_champion
from tests.helpers.fixed_onnx import fixed_onnx
from tests.monitoring.conftest import snapshot_features

PARAMETERS = Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_monitoring.yml"
WINDOW, HORIZON = 20, 5
LAST_DAY = pd.Timestamp("2008-11-28")
POOLED = [1.0, 1.3, 1.6, 1.8, 2.0]
# autumn 2008 against the reference period 2004-09-01 .. 2007-01-01 (588 days): drift on every
# ticker, and no age reason
EXPECTED_REASONS = [
    f"{ticker}: {feature} drifted from the training period (KS {ks}, PSI {psi}; 60 recent vs "
    "588 reference days)"
    for ticker, feature, ks, psi in [
        ("GOOG", "abs_log_return", "0.397", "1.124"),
        ("GOOG", "log_return", "0.331", "0.878"),
        ("MSFT", "abs_log_return", "0.631", "2.677"),
        ("MSFT", "log_return", "0.382", "2.212"),
        ("^GSPC", "abs_log_return", "0.717", "3.540"),
        ("^GSPC", "log_return", "0.431", "2.882"),
    ]
]


@pytest.fixture(scope="module")
def known() -> pd.DataFrame:
    features = snapshot_features()
    known = features[features["date"] <= LAST_DAY].copy()
    known.attrs["version_id"] = 99
    return known


@pytest.fixture(scope="module")
def champion(known: pd.DataFrame) -> dict:
    tickers = sorted(known["ticker"].unique())
    weights = np.random.default_rng(3).normal(0, 0.02, (WINDOW, HORIZON))
    calibration = {
        "level": 0.9,
        "vol_window": WINDOW,
        "window": WINDOW,
        "max_horizon": HORIZON,
        "quantiles": POOLED,
        # each ticker's own quantiles: a different multiple of the pooled ones
        "ticker_quantiles": {t: [q * (2 + i) for q in POOLED] for i, t in enumerate(tickers)},
        "split": {
            "common_start": "2004-09-01",
            "validation_start": "2007-01-01",
            "common_end": "2007-12-31",
        },
    }
    return {
        "model_version": "v-fixed",
        "onnx_model": fixed_onnx(weights, np.array([0.1, -0.2, 0.3, -0.1, 0.2])),
        "scaler_params": {"kind": "standard", "mean": [0.0], "scale": [0.02]},
        "interval_calibration": calibration,
    }


@pytest.fixture(scope="module")
def params() -> dict:
    return yaml.safe_load(PARAMETERS.read_text())["monitoring"]


NO_SHADOW = pd.DataFrame({c: [] for c in FORECAST_COLUMNS})


@pytest.fixture  # per test: mutmut credits a module fixture's calls to the first test only
def run(champion: dict, known: pd.DataFrame, params: dict) -> dict:
    no_log = pd.DataFrame(
        {c: [] for c in ("id", "ticker", "origin_date", "model_version", "values")}
    )
    return monitor_champion(champion, known, no_log, NO_SHADOW, None, params)


def test_the_champions_age_counts_from_its_training_end(run: dict) -> None:
    judged = run["parameters"]["champion"]
    assert judged["trained_through"] == "2007-12-31"
    assert judged["reference_start"] == "2004-09-01"
    assert judged["reference_end"] == "2007-01-01"
    # 2008-01-02 .. 2008-11-28 (the replay's count): under max_age_days 250, no age reason
    assert judged["age_trading_days"] == 231
    decision = run["decisions"][0]
    assert decision["retrain"] is True
    assert not [r for r in decision["reasons"] if "than the data a retrain could use" in r]
    assert decision["reasons"] == EXPECTED_REASONS


def test_a_stored_shadow_row_equals_a_forecast_for_its_ticker(
    run: dict, champion: dict, known: pd.DataFrame
) -> None:
    shadow = run["shadow"]
    assert len(shadow) > 0
    row = shadow.iloc[len(shadow) // 2]
    ticker, origin = row["ticker"], pd.Timestamp(row["origin_date"])
    history = known[(known["ticker"] == ticker) & (known["date"] <= origin)]["close"].to_numpy()
    forecaster = OnnxForecaster(
        champion["onnx_model"], champion["scaler_params"], champion["interval_calibration"]
    )
    own = forecaster.forecast(history, HORIZON, ticker)
    pooled = forecaster.forecast(history, HORIZON)
    k = int(row["step"]) - 1
    assert not np.isclose(own.lower[k], pooled.lower[k])  # the bands differ per ticker
    assert row["close"] == pytest.approx(own.close[k], rel=1e-9)
    assert row["lower"] == pytest.approx(own.lower[k], rel=1e-9)
    assert row["upper"] == pytest.approx(own.upper[k], rel=1e-9)


def test_the_run_records_its_day_champion_parameters_and_features_version(
    run: dict, params: dict
) -> None:
    assert run["as_of"] == dt.date(2008, 11, 28)
    assert run["model_version"] == "v-fixed" and run["data_version_id"] == 99
    assert run["parameters"]["monitoring"] == params
    assert [d["kind"] for d in run["decisions"]] == ["retrain"]
    assert set(run["shadow"]["source"]) == {"shadow"} and len(run["scores"]) == 0
    assert sorted(run["drift"]["ticker"].unique()) == ["GOOG", "MSFT", "^GSPC"]


def test_served_forecasts_are_scored_and_counted_by_status(
    champion: dict, known: pd.DataFrame, params: dict
) -> None:
    """Two forecasts the API served on 2008-11-20: MSFT's five steps all have their closes by
    2008-11-28 (scored); one of sent prices has no ticker to score it against."""
    values = [{"step": k, "close": 20.0 + k, "lower": 15.0, "upper": 30.0} for k in range(1, 6)]
    logged = pd.DataFrame(
        {
            "id": [1, 2],
            "ticker": ["MSFT", None],
            "origin_date": [dt.date(2008, 11, 20)] * 2,
            "model_version": ["v-fixed"] * 2,
            "values": [values, values],
        }
    )
    run = monitor_champion(champion, known, logged, NO_SHADOW, None, params)
    assert run["forecast_counts"] == {
        "scored": 1,
        "partial": 0,
        "pending": 0,
        "no_ticker": 1,
        "unknown_ticker": 0,
        "unknown_origin": 0,
    }
    served = run["scores"][run["scores"]["source"] == "api"]
    msft = known[known["ticker"] == "MSFT"].set_index("date")["close"]
    assert list(served["step"]) == [1, 2, 3, 4, 5]
    targets = pd.to_datetime(served["target_date"])
    np.testing.assert_allclose(served["actual"], msft.loc[targets].to_numpy())
    np.testing.assert_allclose(served["forecast"], [21.0, 22.0, 23.0, 24.0, 25.0])


def test_a_trigger_retrained_for_in_vain_yesterday_waits_out_its_cooldown(
    champion: dict, known: pd.DataFrame, params: dict
) -> None:
    vain = {
        "kind": "promotion",
        "as_of": dt.date(2008, 11, 26),
        "model_version": "v-candidate",
        "retrain": None,
        "promoted": False,
        "reasons": ["kept: not better", f"retrained because {EXPECTED_REASONS[0]}"],
    }
    no_log = pd.DataFrame(
        {c: [] for c in ("id", "ticker", "origin_date", "model_version", "values")}
    )
    run = monitor_champion(champion, known, no_log, NO_SHADOW, None, params, pd.DataFrame([vain]))
    assert run["decisions"][0]["reasons"] == EXPECTED_REASONS[1:]
