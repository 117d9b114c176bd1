"""The serving benchmark's floor (benchmarks/minimal_app.py) does the API's work: for the same
closes it answers exactly the project's forecast (same ONNX model, scaler and bands), without
importing the project or pandas (which would move the floor with the project's imports)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from fastapi.testclient import TestClient

from benchmarks.common import PROJECT_ROOT
from benchmarks.minimal_app import Model, create_app
from stock_lstm.ml_models.serving.onnx_forecaster import forecaster_from_files
from tests.helpers.fixed_onnx import fixed_onnx

WINDOW, HORIZON = 6, 3
SCALER = {"kind": "standard", "mean": [0.0004], "scale": [0.012]}
CALIBRATION = {
    "level": 0.9,
    "quantiles": [1.1, 1.6, 2.2],
    "vol_window": 4,
    "window": WINDOW,
    "max_horizon": HORIZON,
}


def _model_bytes() -> bytes:
    rng = np.random.default_rng(3)  # a fixed model whose output is not the naive forecast
    return fixed_onnx(rng.normal(0.0, 0.3, (WINDOW, HORIZON)), np.array([0.2, -0.1, 0.4]))


def test_the_minimal_app_answers_the_projects_forecast_for_the_same_closes() -> None:
    onnx_model = _model_bytes()
    closes = [100.0 * float(np.exp(0.01 * np.sin(i) + 0.002 * i)) for i in range(WINDOW + 4)]
    project = forecaster_from_files(
        {
            "onnx_model": onnx_model,
            "scaler_params": json.dumps(SCALER).encode(),
            "interval_calibration": json.dumps(CALIBRATION).encode(),
        }
    ).forecast(closes, HORIZON)
    assert not np.allclose(project.close, closes[-1])  # not naive: the comparison can fail

    client = TestClient(create_app(Model(onnx_model, SCALER, CALIBRATION)))
    response = client.post("/predict", json={"prices": closes, "horizon": HORIZON})

    assert response.status_code == 200
    steps = response.json()["predictions"]
    assert [s["step"] for s in steps] == [1, 2, 3]
    for key, expected in (
        ("close", project.close),
        ("lower", project.lower),
        ("upper", project.upper),
    ):
        np.testing.assert_allclose([s[key] for s in steps], expected, rtol=1e-12)


def test_the_minimal_app_refuses_a_history_shorter_than_its_window() -> None:
    client = TestClient(create_app(Model(_model_bytes(), SCALER, CALIBRATION)))
    response = client.post("/predict", json={"prices": [100.0] * WINDOW, "horizon": 1})
    assert response.status_code == 422


def test_the_minimal_app_imports_neither_the_project_nor_pandas() -> None:
    probe = (
        "import sys, benchmarks.minimal_app; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'stock_lstm', 'pandas'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
