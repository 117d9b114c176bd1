"""GET endpoints, metrics, logs, OpenAPI and CORS against the tiny trained model."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stock_lstm.api.app import create_app
from stock_lstm.api.observability import ACCESS_LOG, ACCESS_LOGGER
from stock_lstm.common.logging import RotatingJsonFileHandler, log_file_settings
from tests.api.conftest import captured, settings_for
from tests.helpers.database import crud_on


def test_health_ok(served) -> None:
    response = served.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "model_version": served.app.state.model.version,
        "serving": "champion",
        "database": "ok",
        "reasons": [],
    }


def test_tickers_lists_the_stored_clean_tickers(served) -> None:
    body = served.get("/api/v1/tickers").json()
    by_name = {t["ticker"]: t for t in body["tickers"]}
    assert {"^GSPC", "GOOG", "MSFT"} <= set(by_name)
    for ticker in by_name.values():
        assert ticker["rows"] > 0 and ticker["first_date"] <= ticker["last_date"]


def test_prices_newest_rows_oldest_first(served) -> None:
    tickers = {t["ticker"]: t for t in served.get("/api/v1/tickers").json()["tickers"]}
    body = served.get("/api/v1/prices/MSFT", params={"limit": 5}).json()
    assert body["ticker"] == "MSFT" and body["count"] == 5 and body["data_version"] >= 1
    dates = [p["date"] for p in body["prices"]]
    assert dates == sorted(dates) and dates[-1] == tickers["MSFT"]["last_date"]
    assert all(p["close"] > 0 for p in body["prices"])
    everything = served.get("/api/v1/prices/MSFT", params={"limit": 10_000}).json()
    assert everything["count"] == tickers["MSFT"]["rows"]


def test_prices_date_range_and_encoded_caret_ticker(served) -> None:
    all_rows = served.get("/api/v1/prices/%5EGSPC", params={"limit": 10_000}).json()["prices"]
    start, end = all_rows[10]["date"], all_rows[19]["date"]
    body = served.get("/api/v1/prices/%5EGSPC", params={"start": start, "end": end}).json()
    assert body["ticker"] == "^GSPC"
    assert [p["date"] for p in body["prices"]] == [p["date"] for p in all_rows[10:20]]


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/api/v1/prices/ZZZZ", {}, 404, "unknown ticker 'ZZZZ'"),
        ("/api/v1/prices/MS%20FT", {}, 422, "ticker: String should match pattern"),
        ("/api/v1/prices/MSFT", {"limit": 0}, 422, "limit: "),
        ("/api/v1/prices/MSFT", {"limit": 10_001}, 422, "limit: "),
        ("/api/v1/prices/MSFT", {"start": "yesterday"}, 422, "start: "),
        ("/api/v1/prices/MSFT", {"start": "2013-01-10", "end": "2013-01-01"}, 422, "after end"),
    ],
)
def test_prices_bad_input(served, path, params, status, words) -> None:
    response = served.get(path, params=params)
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_model_shows_version_data_and_metrics_next_to_naive(served) -> None:
    response = served.get("/api/v1/model")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == served.app.state.model.version
    assert body["data_version"]["id"] >= 1
    assert body["parameters"]
    assert len(body["artifacts"]["model_sha256"]) == 64
    assert body["serving"]["min_history"] == served.app.state.model.forecaster.min_history
    assert body["serving"]["interval_tickers"] == ["GOOG", "MSFT", "^GSPC"]  # scope "ticker"
    record = crud_on(served.app.state.settings.database_url).get_model_version(
        body["model_version"]
    )
    # the evaluation's figures as recorded, each step the LSTM's next to naive's
    assert body["metrics"] == json.loads(json.dumps(record.metrics))
    for ticker in ("GOOG", "MSFT", "^GSPC"):
        step = body["metrics"]["tickers"][ticker]["h1"]
        assert step["mae_ratio"] == pytest.approx(step["lstm"]["mae"] / step["naive"]["mae"])
    # the MLflow run that trained it; no link to a local store (`kedro mlflow ui` opens that)
    assert body["mlflow_run_id"] == record.mlflow_run_id and len(body["mlflow_run_id"]) == 32
    assert body["mlflow_run_url"] is None


def test_model_card_links_to_the_run_on_a_tracking_server(served) -> None:
    settings = served.app.state.settings
    served.app.state.settings = settings.model_copy(
        update={"mlflow_tracking_uri": "https://mlflow.example.org/"}
    )
    try:
        body = served.get("/api/v1/model").json()
    finally:
        served.app.state.settings = settings
    assert body["mlflow_run_url"] == f"https://mlflow.example.org/#/runs/{body['mlflow_run_id']}"


def _sample(metrics_text: str, name: str, **labels: str) -> float:
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_the_calls(served) -> None:
    closes = [20.0 + 0.1 * i for i in range(served.app.state.model.forecaster.min_history)]
    before = served.get("/metrics").text
    for _ in range(3):
        assert served.post("/api/v1/predict", json={"prices": closes}).status_code == 200
    served.post("/api/v1/predict", json={"prices": [1.0]})
    after = served.get("/metrics").text
    route = {"handler": "/api/v1/predict", "method": "POST"}

    def delta(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert delta("http_requests_total", **route, status="2xx") == 3
    assert delta("http_requests_total", **route, status="4xx") == 1
    assert delta("http_request_duration_seconds_count", **route) == 4
    assert delta("stock_lstm_forecasts_served_total", mode="prices") == 3
    version = served.app.state.model.version
    assert _sample(after, "stock_lstm_model_info", model_version=version) == 1


def test_one_json_log_line_per_request(served) -> None:
    with captured(ACCESS_LOGGER) as records:
        response = served.get("/api/v1/tickers", headers={"X-Request-ID": "log-me-1"})
    assert response.headers["X-Request-ID"] == "log-me-1"
    [record] = records
    assert record.request_id == "log-me-1"
    assert record.route == "/api/v1/tickers"
    assert record.status == 200 and record.latency_ms > 0
    formatted = json.loads(logging.getLogger(ACCESS_LOGGER).parent.handlers[0].format(record))
    assert formatted["request_id"] == "log-me-1" and formatted["status"] == 200


def test_the_access_line_lands_in_logs_api_log(untrained_client) -> None:
    response = untrained_client.get("/health", headers={"X-Request-ID": "log-file-1"})
    assert response.headers["X-Request-ID"] == "log-file-1"
    [file_handler] = [
        h
        for h in logging.getLogger("stock_lstm.api").handlers
        if isinstance(h, RotatingJsonFileHandler)
    ]
    ACCESS_LOG.flush()  # written by the access log's thread
    file_handler.flush()
    path = Path(file_handler.baseFilename)
    assert path.name == "api.log" and path.parent == log_file_settings().directory
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    [line] = [line for line in lines if line.get("request_id") == "log-file-1"]
    assert line["logger"] == "stock_lstm.api.access" and line["message"] == "request"
    assert line["route"] == "/health" and line["status"] in (200, 503)


def test_openapi_documents_every_endpoint_with_examples(served) -> None:
    schema = served.get("/openapi.json").json()
    assert {
        "/health",
        "/api/v1/predict",
        "/api/v1/tickers",
        "/api/v1/prices/{ticker}",
        "/api/v1/model",
        "/metrics",
    } <= set(schema["paths"])
    assert schema["components"]["schemas"]["PredictRequest"]["examples"]
    body = schema["paths"]["/api/v1/predict"]["post"]["requestBody"]["content"]
    assert set(body["application/json"]["examples"]) == {"ticker", "prices"}
    assert served.get("/docs").status_code == 200


def test_cors_closed_by_default_and_opened_by_settings(
    served, untrained_client: TestClient, tmp_path
) -> None:
    preflight = {
        "Origin": "https://example.org",
        "Access-Control-Request-Method": "POST",
    }
    response = served.options("/api/v1/predict", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    settings = settings_for(
        tmp_path,
        untrained_client.app.state.settings.database_url,
        cors_origins=("https://example.org",),
    )
    with TestClient(create_app(settings)) as client:
        response = client.options("/api/v1/predict", headers=preflight)
    assert response.headers["access-control-allow-origin"] == "https://example.org"
