"""What an API worker loads: serving is arrays and rows, so starting a worker and serving
forecasts (stored ticker and sent prices), the registry, /metrics and the predictions log
never import pandas (~70 MiB a worker), nor TensorFlow, Keras, scikit-learn or SciPy; the
endpoints that need a frame import it when first called. And a worker opens the project's
catalog without bootstrapping Kedro's framework (data_pipeline/catalog.py), the largest part
of its start that serving did not need.

One fresh interpreter (this one has modules loaded by other tests) runs the module's apps one
after the other, each started and shut down as a worker is, and reports what each had loaded
at its end; each test checks one claim about that report."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import copy_served_project
from tests.conftest import TrainedProject
from tests.helpers.app import run_in_fresh_worker

# Kedro's project bootstrap: dynaconf (and with it Flask, Werkzeug, Jinja2), the session.
KEDRO_FRAMEWORK = ("kedro.framework.project", "kedro.framework.session", "dynaconf")
# scipy too: only the monitoring summary needs it, imported on its first use
TRAINING_STACK = ("tensorflow", "keras", "sklearn", "scipy")

CODE = f"""
    import json
    import sys
    from fastapi.testclient import TestClient
    from stock_lstm.api.app import create_app

    def loaded(names):
        return [name for name in names if name in sys.modules]

    report = {{}}

    # 1. Serving: start-up, forecasts (stored ticker, sent prices), the registry, /metrics and
    #    the predictions log, then shutdown.
    with TestClient(create_app()) as client:
        assert client.get("/health").status_code == 200
        answer = client.post("/api/v1/predict", json={{"ticker": "MSFT", "horizon": 3}})
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["date"] is not None
        prices = {{"prices": [10.0 + i for i in range(90)]}}
        assert client.post("/api/v1/predict", json=prices).status_code == 200
        assert client.post("/api/v1/predict", json={{"ticker": "MSFT"}}).status_code == 200
        assert client.get("/api/v1/models").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.app.state.prediction_log.flush(timeout_s=60)
        assert client.app.state.prediction_log.written >= 2
    report["serving"] = {{
        "pandas": loaded(["pandas"]),
        "training": loaded({TRAINING_STACK!r}),
        "kedro": loaded({KEDRO_FRAMEWORK!r}),
    }}

    # 2. A worker that also answers the backtest page's data (a frame: pandas, allowed).
    with TestClient(create_app()) as client:
        health = client.get("/health")
        assert health.status_code == 200, health.text
        answer = client.post("/api/v1/predict", json={{"ticker": "MSFT", "horizon": 1}})
        assert answer.status_code == 200, answer.text
        assert client.get("/api/v1/backtest").status_code == 200
    report["with_backtest"] = {{"kedro": loaded({KEDRO_FRAMEWORK!r})}}
    print(json.dumps(report))
    """


@pytest.fixture(scope="module")
def loaded_modules(
    fixed_project: TrainedProject, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, list[str]]]:
    """The modules of each listing that a fresh worker had loaded after each step."""
    project = copy_served_project(fixed_project, tmp_path_factory.mktemp("imports") / "p")
    return json.loads(run_in_fresh_worker(project, CODE).strip().splitlines()[-1])


def test_a_serving_worker_never_imports_pandas(loaded_modules) -> None:
    assert loaded_modules["serving"]["pandas"] == [], "a serving worker imported pandas"


def test_the_api_process_never_imports_tensorflow(loaded_modules) -> None:
    """Start-up, forecasts and a registry read: no TensorFlow, Keras, scikit-learn or SciPy."""
    loaded = loaded_modules["serving"]["training"]
    assert not loaded, loaded


def test_a_worker_starts_without_bootstrapping_kedro(loaded_modules) -> None:
    for step in ("serving", "with_backtest"):
        loaded = loaded_modules[step]["kedro"]
        assert not loaded, f"a serving worker imported {loaded} ({step})"
