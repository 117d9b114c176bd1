"""What an API worker loads: serving is arrays and rows, so starting a worker and serving
forecasts (stored ticker and sent prices), the registry, /metrics and the predictions log
never import pandas (~70 MiB a worker); the endpoints that need a frame import it when first
called. And a worker opens the project's catalog without bootstrapping Kedro's framework
(data_pipeline/catalog.py), the largest part of its start that serving did not need."""

from __future__ import annotations

from tests.helpers.app import run_in_fresh_worker


def test_a_serving_worker_never_imports_pandas(fixed_copy) -> None:
    code = """
        import sys
        from fastapi.testclient import TestClient
        from stock_lstm.api.app import create_app

        with TestClient(create_app()) as client:
            assert client.get("/health").status_code == 200
            answer = client.post("/api/v1/predict", json={"ticker": "MSFT", "horizon": 3})
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"][0]["date"] is not None
            prices = {"prices": [10.0 + i for i in range(90)]}
            assert client.post("/api/v1/predict", json=prices).status_code == 200
            assert client.get("/api/v1/models").status_code == 200
            assert client.get("/metrics").status_code == 200
            assert client.app.state.prediction_log.flush(timeout_s=60)
            assert client.app.state.prediction_log.written >= 2
        assert "pandas" not in sys.modules, "a serving worker imported pandas"
        print("no pandas")
        """
    assert "no pandas" in run_in_fresh_worker(fixed_copy, code)


# Kedro's project bootstrap: dynaconf (and with it Flask, Werkzeug, Jinja2), the session.
KEDRO_FRAMEWORK = ("kedro.framework.project", "kedro.framework.session", "dynaconf")


def test_a_worker_starts_without_bootstrapping_kedro(fixed_copy) -> None:
    code = f"""
        import sys
        from fastapi.testclient import TestClient
        from stock_lstm.api.app import create_app

        with TestClient(create_app()) as client:
            health = client.get("/health")
            assert health.status_code == 200, health.text
            answer = client.post("/api/v1/predict", json={{"ticker": "MSFT", "horizon": 1}})
            assert answer.status_code == 200, answer.text
            assert client.get("/api/v1/backtest").status_code == 200
        loaded = [name for name in {KEDRO_FRAMEWORK!r} if name in sys.modules]
        assert not loaded, f"a serving worker imported {{loaded}}"
        print("no kedro framework")
        """
    assert "no kedro framework" in run_in_fresh_worker(fixed_copy, code)
