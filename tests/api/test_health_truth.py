"""/health tells the truth (issue 28, finding 4) and no answer shows a server path (finding 5).

A read-only database is "read-only" (503), and a promotion on it answers a 503 that says so; a
worker that cannot load the registry's champion says "stale: <why>" (503) while it keeps
serving its old version; a degraded answer names artifacts and versions, not the folders they
are stored in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stock_lstm.api.app import create_app
from tests.api.conftest import settings_for
from tests.conftest import TrainedProject, make_project_copy
from tests.helpers.app import KEY, app_client
from tests.helpers.database import crud_on
from tests.helpers.registry import NEWER, only_version, record_as

AUTH = {"X-API-Key": KEY}


def read_only(sqlite_url: str) -> str:
    """The same SQLite file, opened read-only (as a read-only mount or file would be: root's
    tests ignore a chmod)."""
    return f"sqlite:///file:{sqlite_url.removeprefix('sqlite:///')}?mode=ro&uri=true"


def test_health_reports_a_read_only_database(tmp_path: Path, sqlite_url: str) -> None:
    root = make_project_copy(tmp_path / "project")
    with TestClient(create_app(settings_for(root, read_only(sqlite_url)))) as client:
        response = client.get("/health")
    body = response.json()
    assert response.status_code == 503
    assert body["database"] == "read-only"
    assert any("read-only" in reason for reason in body["reasons"])


def test_health_reports_a_writable_database_as_ok(tmp_path: Path, sqlite_url: str) -> None:
    root = make_project_copy(tmp_path / "project")
    with TestClient(create_app(settings_for(root, sqlite_url))) as client:
        body = client.get("/health").json()
    assert body["database"] == "ok"  # degraded for the missing model only
    assert not any("database" in reason for reason in body["reasons"])


def test_a_promotion_on_a_read_only_database_says_read_only(fixed_copy: TrainedProject) -> None:
    champion = only_version(fixed_copy)
    record_as(fixed_copy, champion, NEWER)  # a candidate with the champion's (valid) files
    for name in ("onnx_model.onnx", "scaler_params.json", "interval_calibration.json"):
        folder = fixed_copy.root / "data" / "06_models" / name
        shutil.copytree(folder / champion, folder / NEWER)
    project = TrainedProject(fixed_copy.root, read_only(fixed_copy.database_url))
    with app_client(project, api_key=KEY, registry_poll_s=3600.0) as client:
        response = client.post(f"/api/v1/models/{NEWER}/promote", headers=AUTH)
        health = client.get("/health").json()
    assert response.status_code == 503, response.text
    assert "read-only" in response.json()["detail"]
    assert health["database"] == "read-only" and health["model_version"] == champion
    assert crud_on(fixed_copy.database_url).champion_version() == champion


def test_a_worker_that_cannot_load_the_champion_says_stale(fixed_copy: TrainedProject) -> None:
    served = only_version(fixed_copy)
    record_as(fixed_copy, served, NEWER)  # recorded, but its files were never saved
    with app_client(fixed_copy, api_key=KEY, registry_poll_s=3600.0) as client:
        assert client.get("/health").json()["serving"] == "champion"
        crud_on(fixed_copy.database_url).promote_model_version(
            NEWER, reason="promoted behind the API's back", actor="test"
        )
        assert client.post("/api/v1/model/reload", headers=AUTH).status_code == 503
        response = client.get("/health")
        forecast = client.post("/api/v1/predict", json={"ticker": "MSFT", "horizon": 1})
    body = response.json()
    assert response.status_code == 503 and body["status"] == "degraded"
    assert body["model_version"] == served
    assert body["serving"].startswith(f"stale: the champion is {NEWER}, still serving {served}")
    assert "onnx_model" in body["serving"]
    assert str(fixed_copy.root) not in response.text
    assert forecast.headers["X-Model-Version"] == served  # the old model keeps answering


@pytest.mark.parametrize("broken", ["no pyproject.toml", "no conf folder"])
def test_a_degraded_health_names_no_server_folder(tmp_path: Path, sqlite_url, broken) -> None:
    root = make_project_copy(tmp_path / "project")
    if broken == "no pyproject.toml":
        (root / "pyproject.toml").unlink()
    else:
        shutil.rmtree(root / "conf")
    with TestClient(create_app(settings_for(root, sqlite_url))) as client:
        health = client.get("/health")
        predict = client.post("/api/v1/predict", json={"prices": [1.0] * 80, "horizon": 1})
    assert health.status_code == predict.status_code == 503
    for response in (health, predict):
        assert str(root) not in response.text
        assert str(tmp_path) not in response.text
