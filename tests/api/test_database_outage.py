"""The database goes away and comes back, at start-up and while serving.

A real outage: the app reaches PostgreSQL through a loopback TCP proxy that the test closes
(connections refused, open ones cut, as when the server or the network dies) and reopens.
/health says 503 and why, forecasts from a sent history keep working while the database is
down, nothing answers 500, and everything recovers without restarting the app.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from stock_lstm.api import app as app_module
from stock_lstm.api.app import create_app
from stock_lstm.api.v1.services.health import DatabaseCheck
from tests.api.conftest import settings_for
from tests.helpers.database import crud_on
from tests.helpers.outage import WAIT_S, TcpProxy, seed, through, wait_for


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy
    proxy.close()


# /health caches its database check (DATABASE_CHECK_TTL_S, 2 s): the app under test caches it
# for this long, so each change of the database shows in /health without waiting seconds.
CHECK_TTL_S = 0.1


def test_the_api_rides_out_a_database_outage(
    fixed_project, postgres_url, proxy, monkeypatch
) -> None:
    seed(fixed_project, postgres_url)
    monkeypatch.setattr(app_module, "DatabaseCheck", partial(DatabaseCheck, ttl_s=CHECK_TTL_S))
    settings = settings_for(fixed_project.root, through(proxy, postgres_url), registry_poll_s=0.1)
    history = {"prices": [40.0 + 0.1 * i for i in range(200)]}
    served = 0  # forecasts answered 200: each must be logged or counted as failed

    # 1. The database is down when the API starts.
    with TestClient(create_app(settings)) as client:
        health = client.get("/health")
        assert health.status_code == 503
        body = health.json()
        assert body["database"] == "unavailable" and body["model_version"] is None
        assert "database unavailable: OperationalError" in body["reasons"]
        assert any("cannot read the registry's champion" in r for r in body["reasons"]), body
        response = client.post("/api/v1/predict", json=history)  # unverifiable: not served
        assert response.status_code == 503 and "database unavailable" in response.json()["detail"]
        tickers = client.get("/api/v1/tickers")
        assert tickers.status_code == 503
        assert tickers.json()["detail"].startswith("database unavailable (OperationalError)")

        # 2. It comes back: the model is verified and served, without a restart.
        proxy.up()
        wait_for(lambda: client.get("/health").status_code == 200, "recovery after start-up")
        assert client.post("/api/v1/predict", json={"ticker": "MSFT"}).status_code == 200
        assert client.post("/api/v1/predict", json=history).status_code == 200
        served += 2

        # 3. It goes away while serving.
        proxy.down()
        # /health caches its database check for CHECK_TTL_S: the outage shows within it
        wait_for(lambda: client.get("/health").status_code == 503, "/health seeing the outage")
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["database"] == "unavailable"
        assert health.json()["model_version"] == client.app.state.model.version
        for _ in range(5):  # a sent history needs no database
            response = client.post("/api/v1/predict", json=history)
            assert response.status_code == 200, response.text
            served += 1
        for path in ("/api/v1/tickers", "/api/v1/prices/MSFT", "/api/v1/model"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert "database unavailable" in response.json()["detail"], path
        response = client.post("/api/v1/predict", json={"ticker": "MSFT"})
        assert response.status_code == 503, response.text

        # 4. Back again: everything answers, and every forecast was logged or counted.
        proxy.up()
        wait_for(lambda: client.get("/health").status_code == 200, "recovery while serving")
        assert client.get("/api/v1/tickers").status_code == 200
        assert client.post("/api/v1/predict", json={"ticker": "GOOG"}).status_code == 200
        served += 1
        log = client.app.state.prediction_log
        assert log.flush(timeout_s=WAIT_S)
        written, failed = log.written, log.failed
    assert written + failed == served
    assert crud_on(postgres_url).count_predictions() == written >= 3
