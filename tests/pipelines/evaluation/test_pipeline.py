"""Every pipeline end to end on the test environment: artifacts, report and model_versions row."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.recurrent.inference import KerasForecaster as Forecaster
from tests.helpers.database import crud_on

ARTIFACTS = (
    "lstm_model.keras",
    "scaler.pkl",
    "interval_calibration.json",
    "training_history.json",
    "onnx_model.onnx",
    "scaler_params.json",
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_full_tiny_run_writes_every_artifact_and_the_model_row(trained_project_copy: Path) -> None:
    project_copy = trained_project_copy  # every pipeline ran there once, in env "test"
    bootstrap_project(project_copy)

    models = project_copy / "data" / "06_models"
    versions = {name: [p.name for p in (models / name).iterdir()] for name in ARTIFACTS}
    (version,) = versions["lstm_model.keras"]
    assert all(found == [version] for found in versions.values()), versions

    report = json.loads((project_copy / "data/08_reporting/evaluation.json").read_text())
    features = crud_on().latest_version("features")
    assert report["model_version"] == version
    assert report["data_version"] == features.id
    history = json.loads((models / ARTIFACTS[3] / version / ARTIFACTS[3]).read_text())
    assert history["model_version"] == version
    # The test env's snapshot tickers share 2012-01-03..2013-03-01 (GOOG's file ends there):
    # one set of cut-offs for all, every ticker's test from the same date.
    assert report["split"]["common_end"] == "2013-03-01"
    assert {e["test_start"] for e in report["tickers"].values()} == {report["split"]["test_start"]}
    assert set(report["tickers"]) == {"^GSPC", "GOOG", "MSFT"}
    for entry in report["tickers"].values():
        for k in (1, 5):
            step = entry[f"h{k}"]
            assert step["n"] == entry["n_test"] - k  # every test origin with a target k days on
            for key in ("mae", "mape", "directional_accuracy"):
                assert np.isfinite(step["lstm"][key])
            assert step["mae_ratio"] == pytest.approx(step["lstm"]["mae"] / step["naive"]["mae"])
            assert step["drift"]["mae_ratio"] == step["drift"]["mae"] / step["naive"]["mae"]
            covered = step["interval"]["coverage"] * step["n"]  # a count of covered origins
            assert covered == pytest.approx(round(covered)) and step["interval"]["mean_width"] > 0
    plots = project_copy / "data/08_reporting"
    assert sorted(p.name for p in (plots / "backtest_plots").iterdir()) == [
        "GOOG.png",
        "GSPC.png",
        "MSFT.png",
    ]
    assert (plots / "backtest_overview.png").stat().st_size > 0

    row = crud_on().get_model_version(version)
    assert row is not None and row.data_version_id == features.id
    assert row.model_sha256 == sha256(models / "lstm_model.keras" / version / "lstm_model.keras")
    assert row.scaler_sha256 == sha256(models / "scaler.pkl" / version / "scaler.pkl")
    assert row.parameters["model"]["window"] == 10
    assert row.parameters["model_type"] == history["model_type"] == "lstm"
    assert row.status == "champion"  # the first version of an empty registry
    assert row.serving_sha256 == {
        "onnx_model": sha256(models / "onnx_model.onnx" / version / "onnx_model.onnx"),
        "scaler_params": sha256(models / "scaler_params.json" / version / "scaler_params.json"),
        "interval_calibration": sha256(
            models / "interval_calibration.json" / version / "interval_calibration.json"
        ),
    }
    parity = row.metrics["onnx_parity"]
    assert parity["passed"] and parity["max_abs_diff"] <= 1e-5
    assert parity["onnx_sha256"] == row.serving_sha256["onnx_model"]
    assert (
        row.metrics["tickers"]["MSFT"]["h1"]["mae_ratio"]
        == report["tickers"]["MSFT"]["h1"]["mae_ratio"]
    )

    # A failed training run leaves a newer scaler without a model: evaluation refuses the mix,
    # and evaluates the pinned, consistent version.
    newer = "9999-01-01T00.00.00.000Z"
    scaler_dir = models / "scaler.pkl"
    (scaler_dir / newer).mkdir()
    other = pickle.loads((scaler_dir / version / "scaler.pkl").read_bytes())
    other.mean_ = other.mean_ + 1e-3
    (scaler_dir / newer / "scaler.pkl").write_bytes(pickle.dumps(other))
    with KedroSession.create(project_path=project_copy, env="test") as session:
        with pytest.raises(InputError, match=f"loaded scaler is not the one .* {version}"):
            session.run(pipeline_name="evaluation")
    with KedroSession.create(project_path=project_copy, env="test") as session:
        session.run(pipeline_name="evaluation", load_versions={"scaler": version})
    again = json.loads((project_copy / "data/08_reporting/evaluation.json").read_text())
    assert again["model_version"] == version and again["tickers"] == report["tickers"]
    (scaler_dir / newer / "scaler.pkl").unlink()
    (scaler_dir / newer).rmdir()

    # The model, scaler and calibration load back through the catalog and forecast.
    with KedroSession.create(project_path=project_copy, env="test") as session:
        catalog = session.load_context().catalog
        forecaster = Forecaster(
            catalog.load("lstm_model"), catalog.load("scaler"), catalog.load("interval_calibration")
        )
    closes = crud_on().load_ticker_prices("MSFT", limit=forecaster.min_history)["close"].to_numpy()
    forecast = forecaster.forecast(closes, forecaster.max_horizon)
    assert forecast.close.shape == (forecaster.max_horizon,)
    assert (forecast.lower < forecast.close).all() and (forecast.close < forecast.upper).all()
