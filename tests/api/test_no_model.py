"""No trained model: the API still starts, says why, and refuses forecasts with 503."""

from __future__ import annotations


def test_health_is_degraded_with_the_reason(untrained_client) -> None:
    response = untrained_client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and body["model_version"] is None
    assert body["database"] == "ok"
    assert any("run `make pipeline` first" in reason for reason in body["reasons"])


def test_predict_and_model_are_503(untrained_client) -> None:
    response = untrained_client.post("/api/v1/predict", json={"prices": [1.0] * 100})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("no trained model: run `make pipeline` first")
    assert untrained_client.get("/api/v1/model").status_code == 503


def test_bad_input_is_still_422_without_a_model(untrained_client) -> None:
    response = untrained_client.post("/api/v1/predict", json={"prices": "x"})
    assert response.status_code == 422


def test_reads_work_without_a_model(untrained_client) -> None:
    assert untrained_client.get("/api/v1/tickers").json() == {"tickers": []}
    response = untrained_client.get("/api/v1/prices/MSFT")
    assert response.status_code == 404
    assert "run `make pipeline` first" in response.json()["detail"]
