"""The default drift thresholds on the real bundled snapshot: autumn 2008 drifts from a calm
training period (2004-09..2006), calm quarters do not; and the policy retrains on it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stock_lstm.monitoring.accuracy import ACCURACY_COLUMNS
from stock_lstm.monitoring.drift import drift_statistics, ticker_drift
from stock_lstm.monitoring.policy import retrain_decision
from tests.monitoring.conftest import snapshot_features

PARAMETERS = Path(__file__).resolve().parents[2] / "conf" / "base" / "parameters_monitoring.yml"
REFERENCE_START, REFERENCE_END = dt.date(2004, 9, 1), dt.date(2007, 1, 1)  # end exclusive


@pytest.fixture(scope="module")
def monitoring() -> dict:
    return yaml.safe_load(PARAMETERS.read_text())["monitoring"]


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return snapshot_features()


def _drift(features: pd.DataFrame, monitoring: dict, as_of: dt.date) -> pd.DataFrame:
    return drift_statistics(features, REFERENCE_END, as_of, monitoring["drift"], REFERENCE_START)


def test_autumn_2008_drifts_on_every_ticker(features: pd.DataFrame, monitoring: dict) -> None:
    drift = _drift(features, monitoring, dt.date(2008, 11, 28))
    summary = ticker_drift(drift).set_index("ticker")
    assert sorted(summary.index) == ["GOOG", "MSFT", "^GSPC"]
    assert summary["flag"].all(), drift.to_string()
    # the volatility shift is the clearest signal: well above the threshold on every ticker
    volatility = drift[drift["feature"] == "abs_log_return"].set_index("ticker")
    assert (volatility["ks"] > monitoring["drift"]["ks_threshold"] + 0.05).all()
    assert (volatility["n_recent"] == monitoring["drift"]["recent_days"]).all()


@pytest.mark.parametrize("as_of", [dt.date(2007, 6, 29), dt.date(2013, 2, 28)])
def test_calm_quarters_do_not_drift(
    features: pd.DataFrame, monitoring: dict, as_of: dt.date
) -> None:
    drift = _drift(features, monitoring, as_of)
    assert not drift["flag"].any(), drift.to_string()
    assert drift["ks"].max() < monitoring["drift"]["ks_threshold"] - 0.05


def test_the_policy_retrains_in_autumn_2008_and_says_why(
    features: pd.DataFrame, monitoring: dict
) -> None:
    as_of = dt.date(2008, 11, 28)
    no_accuracy = pd.DataFrame({c: [] for c in ACCURACY_COLUMNS})
    decision = retrain_decision(
        no_accuracy, _drift(features, monitoring, as_of), "v1", 10, as_of, monitoring["policy"]
    )
    assert decision["retrain"] is True
    drifted = {reason.split(":")[0] for reason in decision["reasons"]}
    assert drifted == {"GOOG", "MSFT", "^GSPC"}
    calm = dt.date(2007, 6, 29)
    decision = retrain_decision(
        no_accuracy, _drift(features, monitoring, calm), "v1", 10, calm, monitoring["policy"]
    )
    assert decision["retrain"] is False
    assert decision["reasons"][0].startswith("no trigger")
