"""What an API worker loads: serving is arrays and rows, so starting a worker and serving
forecasts (stored ticker and sent prices), the registry, /metrics and the predictions log
never import pandas (~70 MiB a worker); the endpoints that need a frame import it when first
called."""

from __future__ import annotations

from tests.helpers.app import run_in_fresh_worker


def test_a_serving_worker_never_imports_pandas(trained_project) -> None:
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
    assert "no pandas" in run_in_fresh_worker(trained_project, code)
