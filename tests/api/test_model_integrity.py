"""Only the registry's champion is served, and only once complete and verified; nothing is
unpickled; the endpoints that change what is served are behind an API key.

Each test works on a private copy of the fixed project (tests/helpers/fixed_project.py, a
registered champion as training leaves it): it alters artifact files and
`model_versions` rows, then starts an app (or makes it converge) and checks what is served.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from stock_lstm.api.v1.dependencies import security
from tests.api.conftest import captured
from tests.helpers.app import KEY, app_client
from tests.helpers.database import crud_on
from tests.helpers.registry import ARTIFACTS, NEWER, artifact, copy_version, only_version, record_as


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


def test_the_api_never_unpickles_anything(fixed_copy, tmp_path) -> None:
    """The pickled scaler is training's; the API reads the scaler's JSON parameters."""
    version = only_version(fixed_copy)
    marker = tmp_path / "pickle-code-ran"
    evil = pickle.dumps(_Payload(marker))
    pickled = artifact(fixed_copy, "scaler", version)  # where training saves it
    pickled.parent.mkdir(parents=True, exist_ok=True)
    pickled.write_bytes(evil)
    with app_client(fixed_copy) as client:
        assert client.get("/health").json()["model_version"] == version
        ok = client.post("/api/v1/predict", json={"prices": [10.0 + i for i in range(200)]})
        assert ok.status_code == 200
    assert not marker.exists(), "the API unpickled a file"
    pickle.loads(evil)  # the control: this payload does run code when unpickled
    assert marker.exists()


@pytest.mark.parametrize("name", list(ARTIFACTS))
def test_a_missing_artifact_is_a_clear_503(fixed_copy, name) -> None:
    version = only_version(fixed_copy)
    artifact(fixed_copy, name, version).unlink()
    words = f"{name} of model version {version} is missing"
    with captured("stock_lstm.api") as records, app_client(fixed_copy) as client:
        reason = degraded_reason(client)
    assert words in reason
    assert any(words in r.getMessage() for r in records)  # said at start-up, in the log


@pytest.mark.parametrize("name", list(ARTIFACTS))
def test_a_tampered_file_is_refused_before_it_is_read(fixed_copy, name) -> None:
    version = only_version(fixed_copy)
    path = artifact(fixed_copy, name, version)
    path.write_bytes(path.read_bytes() + b" ")
    with app_client(fixed_copy) as client:
        reason = degraded_reason(client)
    assert f"{name} of model version {version} has sha256" in reason
    assert "refusing to load" in reason


def test_a_corrupt_model_whose_hash_was_recorded_fails_with_the_reason(fixed_copy) -> None:
    version = only_version(fixed_copy)
    path = artifact(fixed_copy, "onnx_model", version)
    path.write_bytes(b"not an onnx graph")
    row = crud_on(fixed_copy.database_url).get_model_version(version)
    serving = {**row.serving_sha256, "onnx_model": sha256(path)}
    record_as(fixed_copy, version, version, serving_sha256=serving)
    with app_client(fixed_copy) as client:
        reason = degraded_reason(client)
    assert f"model version {version} does not load" in reason


def test_an_empty_registry_serves_nothing_and_says_why(fixed_copy, tmp_path) -> None:
    empty = dataclasses.replace(fixed_copy, database_url=f"sqlite:///{tmp_path / 'new.db'}")
    with app_client(empty) as client:
        reason = degraded_reason(client)
    assert (
        "no trained model: run `make pipeline` first (the model registry has no champion" in reason
    )


def test_the_champion_is_served_not_the_newest_version(fixed_copy) -> None:
    """A newer complete candidate waits for its promotion; a newer broken one cannot get it."""
    version = only_version(fixed_copy)
    copy_version(fixed_copy, tuple(ARTIFACTS), version, NEWER)
    record_as(fixed_copy, version, NEWER)
    with app_client(fixed_copy) as client:
        assert client.get("/health").json()["model_version"] == version
    crud_on(fixed_copy.database_url).promote_model_version(NEWER, reason="test", actor="test")
    with app_client(fixed_copy) as client:
        assert client.get("/health").json()["model_version"] == NEWER


def reload(client: TestClient, key: str | bytes | None = KEY):
    headers = {} if key is None else {"X-API-Key": key}
    return client.post("/api/v1/model/reload", headers=headers)


def test_reload_converges_on_the_champion_and_swaps_it_in(fixed_copy) -> None:
    old = only_version(fixed_copy)
    history = [50.0 + np.sin(i / 3) for i in range(200)]
    slow = 3600.0  # no follower check during the test: only reload converges
    with app_client(fixed_copy, api_key=KEY, registry_poll_s=slow) as client:
        assert reload(client).json() == {
            "model_version": old,
            "previous_version": old,
            "changed": False,
            "loaded_at": client.app.state.model.loaded_at.isoformat().replace("+00:00", "Z"),
        }
        copy_version(fixed_copy, tuple(ARTIFACTS), old, NEWER)
        record_as(fixed_copy, old, NEWER)
        assert reload(client).json()["model_version"] == old  # a candidate is not served
        before = client.app.state.forecast_service
        crud_on(fixed_copy.database_url).promote_model_version(NEWER, reason="t", actor="t")
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


def test_a_champion_that_fails_to_load_leaves_the_old_model_serving(fixed_copy) -> None:
    old = only_version(fixed_copy)
    copy_version(fixed_copy, tuple(ARTIFACTS), old, NEWER)
    record_as(fixed_copy, old, NEWER)
    with app_client(fixed_copy, api_key=KEY, registry_poll_s=3600.0) as client:
        artifact(fixed_copy, "scaler_params", NEWER).write_bytes(b"tampered")
        crud_on(fixed_copy.database_url).promote_model_version(NEWER, reason="t", actor="t")
        response = reload(client)
        assert client.get("/health").json()["model_version"] == old
        ok = client.post("/api/v1/predict", json={"prices": [10.0 + i for i in range(200)]})
    assert response.status_code == 503
    body = response.json()
    assert body["detail"].startswith(f"reload failed, still serving {old}: scaler_params")
    assert "sha256" in body["detail"]
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
def test_registry_changes_without_the_right_key_are_401_and_do_nothing(
    fixed_copy, server_key
) -> None:
    old = only_version(fixed_copy)
    # More wrong attempts than the rate limit lets through (that is tests/api/test_api_keys.py's)
    with app_client(
        fixed_copy, api_key=server_key, registry_poll_s=3600.0, api_key_max_failures=1000
    ) as client:
        copy_version(fixed_copy, tuple(ARTIFACTS), old, NEWER)
        record_as(fixed_copy, old, NEWER)  # a complete newer version is waiting
        for path in ("/api/v1/model/reload", f"/api/v1/models/{NEWER}/promote"):
            for configured, sent, words in UNAUTHORISED:
                if configured != server_key:
                    continue
                headers = {} if sent is None else {"X-API-Key": sent}
                response = client.post(path, headers=headers)
                assert response.status_code == 401, (sent, response.text)
                assert words in response.json()["detail"], sent
                assert response.headers["WWW-Authenticate"] == "ApiKey"
                assert client.get("/health").json()["model_version"] == old  # nothing done
        assert crud_on(fixed_copy.database_url).champion_version() == old
        if server_key is not None:  # the control: the right key does switch
            response = client.post(f"/api/v1/models/{NEWER}/promote", headers={"X-API-Key": KEY})
            assert response.json()["served_here"] == NEWER


def test_the_key_is_compared_in_constant_time(fixed_copy, monkeypatch) -> None:
    calls = []

    def spy(a, b):
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    with app_client(fixed_copy, api_key=KEY) as client:
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
