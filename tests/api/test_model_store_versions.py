"""The API serves the champion's own files, not the newest: two registered versions whose files
DIFFER (the newer one's calibration quantiles doubled, re-hashed), and the bands served at
steps >= 2 compared with a forecaster built from each version's files. A fixed ONNX model
stands in (no TensorFlow, no training)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from stock_lstm.api.v1.services.model_store import (
    CALIBRATION_DATASET,
    MODEL_DATASET,
    REGISTRY_DATASET,
    SCALER_DATASET,
    ModelStore,
)
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.model_registry import promote
from stock_lstm.ml_models.serving.onnx_forecaster import forecaster_from_files
from tests.helpers.fixed_onnx import fixed_onnx
from tests.helpers.registry import record_version

WINDOW, HORIZON = 10, 4
CHAMPION, NEWER = "2026-01-01T00.00.00.000Z", "2026-02-01T00.00.00.000Z"
FILES = {
    MODEL_DATASET: "onnx_model.onnx",
    SCALER_DATASET: "scaler_params.json",
    CALIBRATION_DATASET: "interval_calibration.json",
}
HISTORY = 100 * np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.01, 40)))


def _files(quantile_factor: float) -> dict[str, bytes]:
    weights = np.random.default_rng(1).normal(0, 0.05, (WINDOW, HORIZON))
    calibration = {
        "level": 0.9,
        "vol_window": WINDOW,
        "window": WINDOW,
        "max_horizon": HORIZON,
        "quantiles": [quantile_factor * q for q in (1.0, 1.4, 1.7, 2.0)],
    }
    return {
        MODEL_DATASET: fixed_onnx(weights, np.array([0.2, -0.3, 0.4, -0.5])),
        SCALER_DATASET: json.dumps({"kind": "standard", "mean": [0.0], "scale": [0.01]}).encode(),
        CALIBRATION_DATASET: json.dumps(calibration).encode(),
    }


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    serving = {name: str(tmp_path / "06_models" / file) for name, file in FILES.items()}
    database = get_database(f"sqlite:///{tmp_path / 'registry.db'}")
    database.migrate()
    for version, factor in ((CHAMPION, 1.0), (NEWER, 2.0)):
        files = _files(factor)
        for name, content in files.items():
            path = Path(serving[name]) / version / FILES[name]
            path.parent.mkdir(parents=True)
            path.write_bytes(content)
        record_version(
            database,
            version,
            serving_sha256={n: hashlib.sha256(c).hexdigest() for n, c in files.items()},
        )
    with database.session() as session:
        promote(
            session,
            CHAMPION,
            serving,
            actor="test",
            reason="the older version is the champion",
            load_check=forecaster_from_files,
        )
    catalog = dict.fromkeys((MODEL_DATASET, SCALER_DATASET, CALIBRATION_DATASET), None)
    catalog[REGISTRY_DATASET] = SimpleNamespace(serving_filepaths=serving)
    return ModelStore(catalog, database)


def test_the_champions_files_are_served_not_the_newest(store: ModelStore) -> None:
    assert store.champion() == CHAMPION
    loaded = store.load(CHAMPION)
    served = loaded.forecaster.forecast(HISTORY, HORIZON)
    own = forecaster_from_files(_files(1.0)).forecast(HISTORY, HORIZON)
    newest = forecaster_from_files(_files(2.0)).forecast(HISTORY, HORIZON)
    assert loaded.version == CHAMPION
    assert not np.allclose(own.upper[1:], newest.upper[1:])  # the versions' bands differ
    np.testing.assert_allclose(served.close, own.close, rtol=1e-12)
    np.testing.assert_allclose(served.lower[1:], own.lower[1:], rtol=1e-12)
    np.testing.assert_allclose(served.upper[1:], own.upper[1:], rtol=1e-12)


def test_each_version_serves_its_own_bands(store: ModelStore) -> None:
    for version, factor in ((CHAMPION, 1.0), (NEWER, 2.0)):
        served = store.load(version).forecaster.forecast(HISTORY, HORIZON)
        own = forecaster_from_files(_files(factor)).forecast(HISTORY, HORIZON)
        np.testing.assert_allclose(served.upper[1:], own.upper[1:], rtol=1e-12)
