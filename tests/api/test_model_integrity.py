"""Only complete, verified model versions are served; the reload endpoint is behind an API key.

Each test works on a private copy of the trained project: it alters artifact files and
`model_versions` rows, then starts an app (or reloads one) and checks what is served.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pickle
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from stock_lstm.api.v1.dependencies import security
from stock_lstm.api.v1.main import create_app
from stock_lstm.data_pipeline import crud
from tests.api.conftest import captured, settings_for
from tests.conftest import TrainedProject

ARTIFACTS = {
    "lstm_model": "lstm_model.keras",
    "scaler": "scaler.pkl",
    "interval_calibration": "interval_calibration.json",
}
NEWER = "2999-01-01T00.00.00.000Z"  # sorts after any real Kedro save version
KEY = "test-key-0123456789abcdef"


def artifact(project: TrainedProject, name: str, version: str) -> Path:
    file = ARTIFACTS[name]
    return project.root / "data" / "06_models" / file / version / file


def only_version(project: TrainedProject) -> str:
    [version] = [p.name for p in (project.root / "data/06_models/lstm_model.keras").iterdir()]
    return version


def copy_version(project: TrainedProject, names: tuple[str, ...], source: str, target: str):
    for name in names:
        destination = artifact(project, name, target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(artifact(project, name, source), destination)


def record_as(project: TrainedProject, source: str, target: str, **changes) -> None:
    """The model_versions row of `target`: `source`'s row with `changes`."""
    row = crud.get_model_version(source, url=project.database_url)
    fields = {**dataclasses.asdict(row), "model_version": target, **changes}
    crud.record_model_version(**fields, url=project.database_url)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def app_client(project: TrainedProject, **overrides) -> Iterator[TestClient]:
    settings = settings_for(project.root, project.database_url, **overrides)
    with TestClient(create_app(settings)) as client:
        yield client


def degraded_reason(client: TestClient) -> str:
    response = client.get("/health")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "degraded" and body["model_version"] is None
    assert client.post("/api/v1/predict", json={"prices": [1.0] * 500}).status_code == 503
    return " | ".join(body["reasons"])


class _Payload:
    """Unpickling this creates a folder: proof that a pickle's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_a_tampered_scaler_is_refused_before_it_is_unpickled(trained_copy, tmp_path) -> None:
    version = only_version(trained_copy)
    marker = tmp_path / "pickle-code-ran"
    evil = pickle.dumps(_Payload(marker))
    artifact(trained_copy, "scaler", version).write_bytes(evil)
    with captured("stock_lstm.api") as records, app_client(trained_copy) as client:
        reason = degraded_reason(client)
    assert f"no complete model version {version}: scaler file" in reason
    assert "sha256" in reason and "refusing to load" in reason
    assert any("scaler file" in r.getMessage() for r in records if r.levelno >= logging.WARNING)
    assert not marker.exists(), "the API unpickled a scaler whose sha256 did not match"
    pickle.loads(evil)  # the control: this payload does run code when unpickled
    assert marker.exists()


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("lstm_model", "no saved 'lstm_model' version"),
        ("scaler", "{version}: scaler is missing"),
        ("interval_calibration", "{version}: interval_calibration is missing"),
    ],
)
def test_a_missing_artifact_is_a_clear_503(trained_copy, name, words) -> None:
    version = only_version(trained_copy)
    artifact(trained_copy, name, version).unlink()
    words = words.format(version=version)
    with captured("stock_lstm.api") as records, app_client(trained_copy) as client:
        reason = degraded_reason(client)
    assert words in reason
    assert any(words in r.getMessage() for r in records)  # said at start-up, in the log


def test_a_tampered_model_file_is_refused(trained_copy) -> None:
    version = only_version(trained_copy)
    path = artifact(trained_copy, "lstm_model", version)
    path.write_bytes(path.read_bytes() + b"\0")
    with app_client(trained_copy) as client:
        reason = degraded_reason(client)
    assert "lstm_model file" in reason and "sha256" in reason


def test_a_corrupt_model_whose_hash_was_recorded_fails_with_the_reason(trained_copy) -> None:
    version = only_version(trained_copy)
    path = artifact(trained_copy, "lstm_model", version)
    path.write_bytes(b"not a keras archive")
    record_as(trained_copy, version, version, model_sha256=sha256(path))
    with app_client(trained_copy) as client:
        reason = degraded_reason(client)
    assert f"cannot load 'lstm_model' of model version {version}" in reason


def test_an_unevaluated_model_version_is_refused(trained_copy, tmp_path) -> None:
    """No model_versions row (evaluation not run): refused, with the command that fixes it."""
    version = only_version(trained_copy)
    empty = dataclasses.replace(trained_copy, database_url=f"sqlite:///{tmp_path / 'new.db'}")
    with app_client(empty) as client:
        reason = degraded_reason(client)
    assert (
        f"{version}: model version {version} has no recorded sha256 in model_versions: "
        "run `kedro run --pipelines evaluation`"
    ) in reason


def test_the_newest_complete_version_is_served_at_start(trained_copy) -> None:
    """Newer half-written versions (files missing, no row, altered scaler) are skipped."""
    version = only_version(trained_copy)
    copy_version(trained_copy, ("lstm_model",), version, "2999-01-01T00.00.00.003Z")
    copy_version(trained_copy, tuple(ARTIFACTS), version, "2999-01-01T00.00.00.002Z")
    copy_version(trained_copy, tuple(ARTIFACTS), version, "2999-01-01T00.00.00.001Z")
    record_as(trained_copy, version, "2999-01-01T00.00.00.001Z", scaler_sha256="0" * 64)
    with app_client(trained_copy) as client:
        assert client.get("/health").json()["model_version"] == version
    complete = "2999-01-01T00.00.00.000Z"
    copy_version(trained_copy, tuple(ARTIFACTS), version, complete)
    record_as(trained_copy, version, complete)
    with app_client(trained_copy) as client:
        assert client.get("/health").json()["model_version"] == complete


def reload(client: TestClient, key: str | bytes | None = KEY):
    headers = {} if key is None else {"X-API-Key": key}
    return client.post("/api/v1/model/reload", headers=headers)


def test_reload_picks_up_a_version_only_when_complete_and_swaps_it_in(trained_copy) -> None:
    old = only_version(trained_copy)
    history = [50.0 + np.sin(i / 3) for i in range(200)]
    with app_client(trained_copy, api_key=KEY) as client:
        assert reload(client).json() == {
            "model_version": old,
            "previous_version": old,
            "changed": False,
            "loaded_at": client.app.state.model.loaded_at.isoformat().replace("+00:00", "Z"),
        }
        steps = [
            ("lstm_model",),  # training has saved the model only
            ("scaler", "interval_calibration"),  # all files, but evaluation has not run
        ]
        for names in steps:
            copy_version(trained_copy, names, old, NEWER)
            response = reload(client)
            assert response.status_code == 200, response.text
            assert (response.json()["model_version"], response.json()["changed"]) == (old, False)
        before = client.app.state.forecast_service
        record_as(trained_copy, old, NEWER)  # evaluation recorded it: now complete
        response = reload(client)
        assert response.status_code == 200, response.text
        assert response.json()["model_version"] == NEWER
        assert response.json()["previous_version"] == old and response.json()["changed"]
        assert client.get("/health").json()["model_version"] == NEWER
        body = client.post("/api/v1/predict", json={"prices": history}).json()
        assert body["model_version"] == NEWER
        metrics = client.get("/metrics").text
        assert f'stock_lstm_model_info{{model_version="{NEWER}"}} 1.0' in metrics
        assert f'model_version="{old}"' not in metrics.split("stock_lstm_model_info")[-1]
        # A request that got the old service before the swap finishes on the old model.
        assert before.predict(_request(history), "in-flight").model_version == old


def _request(prices):
    from stock_lstm.api.v1.schemas.predict import PredictRequest

    return PredictRequest(prices=prices)


def test_a_failed_reload_keeps_the_old_model_serving(trained_copy) -> None:
    old = only_version(trained_copy)
    with app_client(trained_copy, api_key=KEY, model_version=old) as client:
        artifact(trained_copy, "scaler", old).write_bytes(b"tampered")
        response = reload(client)
        assert client.get("/health").json()["model_version"] == old
        ok = client.post("/api/v1/predict", json={"prices": [10.0 + i for i in range(200)]})
    assert response.status_code == 503
    body = response.json()
    assert body["detail"].startswith(f"reload failed, still serving {old}: model version {old}")
    assert "scaler file" in body["detail"]
    assert ok.status_code == 200 and ok.json()["model_version"] == old


UNAUTHORISED = [
    (None, None, "no API_KEY set"),
    (None, KEY, "no API_KEY set"),
    (KEY, None, "missing X-API-Key"),
    (KEY, "", "missing X-API-Key"),
    (KEY, KEY[:-1], "wrong X-API-Key"),
    (KEY, KEY + "x", "wrong X-API-Key"),
    (KEY, KEY.upper(), "wrong X-API-Key"),
    (KEY, "é".encode("latin-1") * 3, "wrong X-API-Key"),  # non-ASCII header bytes
]


@pytest.mark.parametrize("server_key", [None, KEY])
def test_reload_without_the_right_key_is_401_and_does_nothing(trained_copy, server_key) -> None:
    old = only_version(trained_copy)
    with app_client(trained_copy, api_key=server_key) as client:
        copy_version(trained_copy, tuple(ARTIFACTS), old, NEWER)
        record_as(trained_copy, old, NEWER)  # a complete newer version is waiting
        for configured, sent, words in UNAUTHORISED:
            if configured != server_key:
                continue
            response = reload(client, sent)
            assert response.status_code == 401, (sent, response.text)
            assert words in response.json()["detail"], sent
            assert response.headers["WWW-Authenticate"] == "ApiKey"
            assert client.get("/health").json()["model_version"] == old  # nothing done
        if server_key is not None:  # the control: the right key does switch
            assert reload(client).json()["model_version"] == NEWER


def test_the_key_is_compared_in_constant_time(trained_copy, monkeypatch) -> None:
    calls = []

    def spy(a, b):
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    with app_client(trained_copy, api_key=KEY) as client:
        assert reload(client, "wrong").status_code == 401
        assert reload(client).status_code == 200
    assert calls == [(b"wrong", KEY.encode()), (KEY.encode(), KEY.encode())]


def test_every_state_changing_endpoint_needs_the_key(served) -> None:
    """Any route other than GET, and any POST but /predict (which only reads and logs), must
    declare the API key: a new state-changing route cannot be added without it."""
    schema = served.get("/openapi.json").json()
    assert "APIKeyHeader" in schema["components"]["securitySchemes"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method == "get" or (method, path) == ("post", "/api/v1/predict"):
                continue
            assert operation.get("security") == [{"APIKeyHeader": []}], (method, path)
            assert "401" in operation["responses"], (method, path)
