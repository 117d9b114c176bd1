"""GET /api/v1/monitoring's body built from the monitoring library's frames (no router yet)."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from stock_lstm.api.v1.services.monitoring import monitoring_response
from stock_lstm.monitoring.accuracy import rolling_accuracy
from stock_lstm.monitoring.drift import DRIFT_COLUMNS
from stock_lstm.monitoring.scoring import score_forecasts
from tests.monitoring.conftest import forecast_rows

REPORT = {"window": 2, "source": "shadow"}


@pytest.fixture
def prices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": ["AAA"] * 4,
            "date": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"],
            "close": [100.0, 102.0, 101.0, 105.0],
        }
    )


@pytest.fixture
def accuracy(prices: pd.DataFrame) -> pd.DataFrame:
    # From 01-01 (100): forecasts 101, 103, 100 for 102, 101, 105 (interval ± 1).
    # The 2-day window to 01-04 holds the targets of 01-03 and 01-04: |err| 2, 5; naive 1, 5.
    forecasts = pd.DataFrame(
        forecast_rows("1", "AAA", "2024-01-01", [101.0, 103.0, 100.0], source="shadow")
        + forecast_rows("2", "AAA", "2024-01-01", [102.0], source="api")
        + forecast_rows("3", "AAA", "2024-01-01", [102.0], source="shadow", model_version="v0")
    )
    return rolling_accuracy(score_forecasts(forecasts, prices).steps, prices, [2, 3])


def _drift() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ["AAA", "log_return", 500, 60, 0.2, 0.01, 0.7, False],
            ["AAA", "abs_log_return", 500, 60, 0.35, 0.0, 0.6, True],
            ["BBB", "log_return", 5, 60, float("nan"), float("nan"), float("nan"), False],
            ["BBB", "abs_log_return", 5, 60, float("nan"), float("nan"), float("nan"), False],
        ],
        columns=list(DRIFT_COLUMNS),
    )


DECISION = {
    "kind": "retrain",
    "as_of": "2024-01-04",
    "model_version": "v1",
    "retrain": True,
    "reasons": ["AAA: abs_log_return drifted from the training period (KS 0.350, PSI 0.600)"],
}


def test_the_body_has_the_issues_shape_and_hand_figures(accuracy: pd.DataFrame) -> None:
    response = monitoring_response(
        "v1",
        dt.date(2024, 1, 4),
        accuracy,
        _drift(),
        [DECISION],
        REPORT,
        forecast_counts={"scored": 2, "no_ticker": 1},
    )
    body = json.loads(response.model_dump_json())
    assert body == {
        "model_version": "v1",
        "as_of": "2024-01-04",
        "tickers": {
            "AAA": {
                "realized": {
                    "window": 2,
                    "n": 2,
                    "mae": 3.5,
                    "naive_mae": 3.0,
                    "mae_ratio": pytest.approx(3.5 / 3.0),
                    "coverage": 0.0,
                },
                "drift": {"ks": 0.35, "psi": 0.7, "flag": True},
            },
            "BBB": {
                # no forecast scored, too little data for drift: nulls, not NaN
                "realized": {
                    "window": 2,
                    "n": 0,
                    "mae": None,
                    "naive_mae": None,
                    "mae_ratio": None,
                    "coverage": None,
                },
                "drift": {"ks": None, "psi": None, "flag": False},
            },
        },
        "decisions": [{**DECISION, "promoted": None}],
        "forecast_counts": {"scored": 2, "no_ticker": 1},
        "champion_age_days": None,
        "message": None,
    }


def test_figures_are_those_of_as_of_not_later(accuracy: pd.DataFrame) -> None:
    # on 01-02 the 2-day window holds the 01-02 target only: |err| 1, naive 2, inside
    response = monitoring_response("v1", dt.date(2024, 1, 2), accuracy, _drift(), [], REPORT)
    realized = response.tickers["AAA"].realized
    assert (realized.n, realized.mae, realized.mae_ratio, realized.coverage) == (1, 1.0, 0.5, 1.0)


def test_ticker_filters(accuracy: pd.DataFrame) -> None:
    response = monitoring_response(
        "v1", dt.date(2024, 1, 4), accuracy, _drift(), [], REPORT, ticker="BBB"
    )
    assert list(response.tickers) == ["BBB"]
    assert response.forecast_counts is None


def test_only_the_reported_source_and_champion_count(accuracy: pd.DataFrame) -> None:
    api = monitoring_response(
        "v1", dt.date(2024, 1, 4), accuracy, _drift(), [], {"window": 3, "source": "api"}
    )
    # the one api forecast (from 01-01: 102 for 01-02) is in the 3-day window 01-02..01-04
    assert api.tickers["AAA"].realized.n == 1
    assert api.tickers["AAA"].realized.mae == 0.0
    other = monitoring_response("v2", dt.date(2024, 1, 4), accuracy, _drift(), [], REPORT)
    assert other.tickers["AAA"].realized.n == 0


def test_before_any_monitoring_run_the_endpoint_answers_200_with_empty_figures(
    untrained_client,
) -> None:
    response = untrained_client.get("/api/v1/monitoring", params={"ticker": "MSFT"})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] is None and body["as_of"] is None
    assert body["tickers"] == {} and body["decisions"] == []
    assert "make daily" in body["message"]
    metrics = untrained_client.get("/metrics").text
    assert "# TYPE stock_lstm_monitoring_mae_ratio gauge" in metrics
    assert "stock_lstm_monitoring_mae_ratio{" not in metrics


def test_an_unknown_ticker_is_a_404_as_on_every_route(served) -> None:
    unknown = served.get("/api/v1/monitoring", params={"ticker": "NOPE"})
    assert unknown.status_code == 404
    assert "unknown ticker 'NOPE': see GET /api/v1/tickers" in unknown.json()["detail"]
    prices = served.get("/api/v1/prices/NOPE")  # the same answer
    assert (prices.status_code, prices.json()) == (404, unknown.json())
    known = served.get("/api/v1/monitoring", params={"ticker": "MSFT"})
    assert known.status_code == 200
