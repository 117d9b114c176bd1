"""POST /api/v1/predict against the fixed project's champion (tests/helpers/fixed_project.py),
and end to end against the tiny model trained in the test environment."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from fastapi.testclient import TestClient

from stock_lstm.api.v1.schemas.predict import MAX_PRICES
from stock_lstm.ml_models.serving.onnx_forecaster import forecaster_from_files
from tests.conftest import TrainedProject
from tests.helpers.app import app_client
from tests.helpers.database import crud_on
from tests.helpers.registry import ARTIFACTS, artifact, only_version

KERAS_TOLERANCE = 1e-5  # relative: ONNX Runtime against Keras, float32 inside both
SAME_FILES = 1e-12  # relative: the served forecaster against one built from the same files


@pytest.fixture(scope="module")
def forecaster(fixed_project: TrainedProject):
    """A forecaster built from the champion's own files: what the API must serve."""
    version = only_version(fixed_project)
    return forecaster_from_files(
        {name: artifact(fixed_project, name, version).read_bytes() for name in ARTIFACTS}
    )


def _history(min_history: int) -> list[float]:
    steps = np.random.default_rng(3).normal(0.0005, 0.015, min_history + 9)
    return [round(float(v), 4) for v in 50.0 * np.exp(np.cumsum(steps))]


@pytest.fixture(scope="module")
def history(forecaster) -> list[float]:
    return _history(forecaster.min_history)


def _flush(client: TestClient) -> None:
    assert client.app.state.prediction_log.flush(timeout_s=30)


def _count(client: TestClient) -> int:
    _flush(client)
    return crud_on(client.app.state.settings.database_url).count_predictions()


def _check_prices_mode(client: TestClient, forecaster, history, rtol: float) -> None:
    for horizon in sorted({1, 2, forecaster.max_horizon}):
        response = client.post("/api/v1/predict", json={"prices": history, "horizon": horizon})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["ticker"] is None and body["last_date"] is None
        assert body["horizon"] == horizon
        assert body["model_version"] == client.app.state.model.version
        assert response.headers["X-Model-Version"] == body["model_version"]
        assert [p["step"] for p in body["predictions"]] == list(range(1, horizon + 1))
        assert all(p["date"] is None for p in body["predictions"])
        expected = forecaster.forecast(history, horizon)
        for key in ("close", "lower", "upper"):
            got = np.array([p[key] for p in body["predictions"]])
            np.testing.assert_allclose(got, getattr(expected, key), rtol=rtol)
        assert all(p["lower"] <= p["close"] <= p["upper"] for p in body["predictions"])


def test_prices_mode_equals_the_forecaster(served, forecaster, history) -> None:
    _check_prices_mode(served, forecaster, history, SAME_FILES)


def test_horizon_defaults_to_one(served, history) -> None:
    body = served.post("/api/v1/predict", json={"prices": history}).json()
    assert body["horizon"] == 1 and len(body["predictions"]) == 1


def _check_ticker_mode(client: TestClient, forecaster, rtol: float) -> None:
    stored = crud_on(client.app.state.settings.database_url).load_ticker_prices(
        "MSFT", limit=forecaster.min_history
    )
    horizon = forecaster.max_horizon
    response = client.post("/api/v1/predict", json={"ticker": "msft", "horizon": horizon})
    assert response.status_code == 200, response.text
    body = response.json()
    last = stored["date"].iloc[-1].date()
    assert body["ticker"] == "MSFT"
    assert body["last_date"] == last.isoformat()
    dates = [date.fromisoformat(p["date"]) for p in body["predictions"]]
    assert dates[0] > last and dates == sorted(set(dates))
    assert all(d.weekday() < 5 for d in dates)
    assert (dates[0] - last).days <= 3  # the next weekday
    expected = forecaster.forecast(stored["close"].to_numpy(), horizon, "MSFT")
    np.testing.assert_allclose([p["close"] for p in body["predictions"]], expected.close)
    # the bands are MSFT's: its own quantiles when the calibration has them (scope "ticker")
    pooled = forecaster.forecast(stored["close"].to_numpy(), horizon)
    assert not np.allclose(expected.upper, pooled.upper)  # the test env calibrates per ticker
    for key in ("lower", "upper"):
        got = np.array([p[key] for p in body["predictions"]])
        np.testing.assert_allclose(got, getattr(expected, key), rtol=rtol)


def test_ticker_mode_uses_the_newest_stored_closes_and_business_days(served, forecaster) -> None:
    _check_ticker_mode(served, forecaster, SAME_FILES)


def test_the_trained_models_onnx_forecasts_equal_keras(trained_project: TrainedProject) -> None:
    """End to end: the app serving the model trained in the test environment answers what its
    Keras model forecasts (TensorFlow, training's artifacts: lstm_model, the pickled scaler),
    read through the project's catalog (the session's, without bootstrapping Kedro)."""
    from stock_lstm.data_pipeline.catalog import open_catalog
    from stock_lstm.ml_models.recurrent.inference import KerasForecaster

    catalog = open_catalog(trained_project.root, "test")
    keras = KerasForecaster(
        catalog.load("lstm_model"), catalog.load("scaler"), catalog.load("interval_calibration")
    )
    with app_client(trained_project) as client:
        _check_prices_mode(client, keras, _history(keras.min_history), KERAS_TOLERANCE)
        _check_ticker_mode(client, keras, KERAS_TOLERANCE)


def test_every_forecast_is_written_to_predictions(served, history, forecaster) -> None:
    before = _count(served)
    horizon = forecaster.max_horizon
    response = served.post(
        "/api/v1/predict",
        json={"prices": history, "horizon": horizon},
        headers={"X-Request-ID": "test-row-written-1"},
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "test-row-written-1"
    assert _count(served) == before + 1
    url = served.app.state.settings.database_url
    row = crud_on(url).recent_predictions(limit=1)[0]
    assert row["request_id"] == "test-row-written-1"
    assert row["ticker"] is None and row["origin_date"] is None  # a sent history: unscorable
    assert row["model_version"] == response.json()["model_version"]
    assert row["horizon"] == horizon
    assert [v["close"] for v in row["values"]] == [
        p["close"] for p in response.json()["predictions"]
    ]
    assert row["latency_ms"] > 0


def test_a_ticker_forecast_row_names_the_ticker_origin_and_version(served) -> None:
    response = served.post(
        "/api/v1/predict", json={"ticker": "GOOG"}, headers={"X-Request-ID": "goog-1"}
    )
    _flush(served)
    row = crud_on(served.app.state.settings.database_url).recent_predictions(limit=1)[0]
    assert (row["request_id"], row["ticker"]) == ("goog-1", "GOOG")
    # the stored steps are the answered ones: same trading-day dates, same closes
    answered = response.json()["predictions"]
    assert [str(v["date"]) for v in row["values"]] == [p["date"] for p in answered]
    assert [v["close"] for v in row["values"]] == [p["close"] for p in answered]
    # what monitoring scores it by: the last close used, and the model that made it
    assert row["origin_date"].isoformat() == response.json()["last_date"]
    assert row["model_version"] == response.json()["model_version"]


def test_an_insane_request_id_is_replaced(served, history) -> None:
    response = served.post(
        "/api/v1/predict", json={"prices": history}, headers={"X-Request-ID": "x" * 200}
    )
    assert response.status_code == 200
    assert len(response.headers["X-Request-ID"]) == 32  # a fresh uuid4 hex


def _bad_bodies(min_history: int, max_horizon: int) -> list[tuple[str, object, int, str, str]]:
    """(case, body (dict = JSON, bytes = raw), status, field, words in the detail)."""
    ok = [10.0 + i for i in range(min_history)]
    return [
        ("too few prices", {"prices": ok[:-1]}, 422, "prices", f"at least {min_history}"),
        ("one price", {"prices": [1.0]}, 422, "prices", f"at least {min_history}"),
        ("empty prices", {"prices": []}, 422, "prices", f"at least {min_history}"),
        # realistic full-precision closes: the body limit leaves room for MAX_PRICES of them,
        # so one too many is a 422 naming the field, not a 413
        (
            "too many prices",
            {"prices": [123.456789012345] * (MAX_PRICES + 1)},
            422,
            "prices",
            "at most",
        ),
        (
            "zero price",
            {"prices": [*ok[:-1], 0.0]},
            422,
            f"prices[{min_history - 1}]",
            "greater than 0",
        ),
        ("negative price", {"prices": [-1.0, *ok]}, 422, "prices[0]", "greater than 0"),
        ("NaN literal", b'{"prices": [NaN, 1.0]}', 422, "prices[0]", "finite"),
        ("Infinity literal", b'{"prices": [1.0, Infinity]}', 422, "prices[1]", "finite"),
        ("both", {"prices": ok, "ticker": "MSFT"}, 422, "body", "exactly one of `prices`"),
        ("neither", {"horizon": 1}, 422, "body", "exactly one of `prices`"),
        ("horizon 0", {"prices": ok, "horizon": 0}, 422, "horizon", "greater than or equal"),
        ("horizon negative", {"prices": ok, "horizon": -3}, 422, "horizon", "greater than"),
        (
            "horizon too far",
            {"prices": ok, "horizon": max_horizon + 1},
            422,
            "horizon",
            f"max_horizon {max_horizon}",
        ),
        ("horizon string", {"prices": ok, "horizon": "2"}, 422, "horizon", "valid integer"),
        ("horizon float", {"prices": ok, "horizon": 1.5}, 422, "horizon", "valid integer"),
        ("horizon bool", {"prices": ok, "horizon": True}, 422, "horizon", "valid integer"),
        ("prices string", {"prices": "1,2,3"}, 422, "prices", "valid list"),
        ("price string", {"prices": ["12.5", *ok]}, 422, "prices[0]", "valid number"),
        ("nested prices", {"prices": [[1.0], *ok]}, 422, "prices[0]", "valid number"),
        ("ticker number", {"ticker": 123}, 422, "ticker", "valid string"),
        ("ticker SQL", {"ticker": "MSFT'; DROP TABLE x"}, 422, "ticker", "pattern"),
        ("ticker path", {"ticker": "../../etc/passwd"}, 422, "ticker", "pattern"),
        ("ticker too long", {"ticker": "A" * 33}, 422, "ticker", "pattern"),
        ("extra field", {"prices": ok, "model": "x"}, 422, "model", "not permitted"),
        ("malformed JSON", b'{"prices": [1.0, 2.0', 422, "body", "malformed JSON"),
        ("empty body", b"", 422, "body", "JSON body is required"),
        ("JSON array", b"[1.0, 2.0]", 422, "body", "JSON object"),
        ("JSON string", b'"hello"', 422, "body", "JSON object"),
        ("unknown ticker", {"ticker": "ZZZZ"}, 404, "ticker", "unknown ticker 'ZZZZ'"),
    ]


def test_bad_input_is_a_clear_4xx_and_stores_nothing(served, forecaster) -> None:
    before = _count(served)
    cases = _bad_bodies(forecaster.min_history, forecaster.max_horizon)
    for case, body, status, field, words in cases:
        if isinstance(body, bytes):
            response = served.post(
                "/api/v1/predict", content=body, headers={"content-type": "application/json"}
            )
        else:
            response = served.post("/api/v1/predict", json=body)
        assert response.status_code == status, (case, response.text)
        payload = response.json()
        assert words in payload["detail"], (case, payload)
        assert payload["detail"].startswith(f"{field}: "), (case, payload)
        assert field in {e["field"] for e in payload["errors"]}, (case, payload)
    assert _count(served) == before


def test_a_body_over_the_limit_is_413(served) -> None:
    limit = served.app.state.settings.max_body_bytes
    big = json.dumps({"prices": [1.5] * (limit // 4)}).encode()
    assert len(big) > limit
    response = served.post(
        "/api/v1/predict", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert str(limit) in response.json()["detail"]
    assert response.headers["X-Request-ID"]

    def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(4):
            yield big[: limit // 2]

    response = served.post(
        "/api/v1/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
