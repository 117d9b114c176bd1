"""GET /api/v1/models and the promote/rollback endpoints (the dashboard's and operators' view
of the registry). That an API process never imports TensorFlow: test_worker_imports.py."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import pytest

from stock_lstm.cli import registry as registry_cli
from tests.conftest import kedro_env
from tests.helpers.app import KEY, app_client
from tests.helpers.database import crud_on
from tests.helpers.registry import ARTIFACTS, NEWER, artifact, copy_version, only_version, record_as

AUTH = {"X-API-Key": KEY}
HISTORY = {"prices": [20.0 + 0.2 * i for i in range(100)], "horizon": 1}


def test_models_lists_versions_statuses_metrics_and_events(served) -> None:
    body = served.get("/api/v1/models").json()
    champion = served.app.state.model.version
    assert body["champion"] == champion
    [version] = body["versions"]
    assert version["model_version"] == champion and version["status"] == "champion"
    assert version["model_type"] == "lstm" and version["data_version_id"] is not None
    for ticker in version["metrics"]["tickers"].values():  # next to the naive forecast's
        assert {"lstm", "naive", "mae_ratio"} <= set(ticker["h1"])
    assert version["metrics"]["onnx_parity"]["passed"]
    assert set(version["serving_sha256"]) == set(ARTIFACTS)
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in body["events"]] == [
        ("candidate", "champion", "evaluation"),
        (None, "candidate", "evaluation"),
    ]


def test_promote_and_rollback_answer_404_409_and_no_op(fixed_copy) -> None:
    old = only_version(fixed_copy)
    copy_version(fixed_copy, tuple(ARTIFACTS), old, NEWER)
    record_as(fixed_copy, old, NEWER)
    with app_client(fixed_copy, api_key=KEY, registry_poll_s=3600.0) as client:
        unknown = client.post("/api/v1/models/1999-01-01T00.00.00.000Z/promote", headers=AUTH)
        assert unknown.status_code == 404
        assert "unknown model version '1999-01-01T00.00.00.000Z'" in unknown.json()["detail"]

        nothing_before = client.post("/api/v1/models/rollback", headers=AUTH)
        assert nothing_before.status_code == 409
        assert nothing_before.json()["detail"] == "no previous champion to roll back to"

        events = len(client.get("/api/v1/models").json()["events"])
        no_op = client.post(f"/api/v1/models/{old}/promote", headers=AUTH)
        assert no_op.status_code == 200
        assert no_op.json() == {
            "champion": old,
            "previous": None,
            "changed": False,
            "served_here": old,
        }
        assert len(client.get("/api/v1/models").json()["events"]) == events  # nothing recorded

        onnx = artifact(fixed_copy, "onnx_model", NEWER)
        original = onnx.read_bytes()
        onnx.write_bytes(original + b"\0")
        refused = client.post(f"/api/v1/models/{NEWER}/promote", headers=AUTH)
        assert refused.status_code == 409
        assert f"model version {NEWER} cannot be promoted: onnx_model" in refused.json()["detail"]
        assert "sha256" in refused.json()["detail"]
        onnx.write_bytes(original)

        promoted = client.post(
            f"/api/v1/models/{NEWER}/promote", headers=AUTH, json={"reason": "a better model"}
        )
        assert promoted.status_code == 200, promoted.text
        assert promoted.json() == {
            "champion": NEWER,
            "previous": old,
            "changed": True,
            "served_here": NEWER,
        }
        answer = client.post("/api/v1/predict", json=HISTORY)
        assert answer.headers["X-Model-Version"] == answer.json()["model_version"] == NEWER
        latest = client.get("/api/v1/models").json()["events"][0]
        assert (latest["model_version"], latest["reason"], latest["actor"]) == (
            NEWER,
            "a better model",
            "api-key",
        )

        back = client.post("/api/v1/models/rollback", headers=AUTH).json()
        assert (back["champion"], back["previous"], back["served_here"]) == (old, NEWER, old)
        assert client.post("/api/v1/predict", json=HISTORY).headers["X-Model-Version"] == old
    assert crud_on(fixed_copy.database_url).champion_version() == old


def test_a_promotion_reads_and_hashes_each_artifact_once(fixed_copy, monkeypatch) -> None:
    """The promoting worker serves the very bytes its promotion checked: no second read."""
    from stock_lstm.data_pipeline import model_registry

    old = only_version(fixed_copy)
    copy_version(fixed_copy, tuple(ARTIFACTS), old, NEWER)
    record_as(fixed_copy, old, NEWER)
    with app_client(fixed_copy, api_key=KEY, registry_poll_s=3600.0) as client:
        reads = []
        read, sha256 = model_registry.read_artifact, model_registry.artifact_sha256
        monkeypatch.setattr(
            model_registry, "read_artifact", lambda f, v: reads.append(v) or read(f, v)
        )
        monkeypatch.setattr(
            model_registry, "artifact_sha256", lambda f, v: reads.append(v) or sha256(f, v)
        )
        promoted = client.post(f"/api/v1/models/{NEWER}/promote", headers=AUTH)
        assert promoted.status_code == 200, promoted.text
        assert promoted.json()["served_here"] == NEWER
    assert reads == [NEWER] * len(ARTIFACTS)


def test_the_registry_cli_promotes_with_the_same_checks(fixed_copy, monkeypatch, capsys) -> None:
    """The CLI's commands, called in this process (the process's exit status and its error
    line are checked by the test below, which runs `python -m stock_lstm.cli.registry`)."""
    old = only_version(fixed_copy)
    copy_version(fixed_copy, tuple(ARTIFACTS), old, NEWER)
    record_as(fixed_copy, old, NEWER)
    for name in ("DATABASE_URL", "STOCK_LSTM_PROJECT_ROOT", "KEDRO_ENV"):
        monkeypatch.setenv(name, kedro_env(fixed_copy.root, fixed_copy.database_url)[name])
    monkeypatch.chdir(fixed_copy.root)

    def cli(*args: str) -> subprocess.CompletedProcess:
        returncode = registry_cli.main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, returncode, out, err)

    artifact(fixed_copy, "interval_calibration", NEWER).unlink()
    refused = cli("promote", NEWER)
    assert refused.returncode == 1
    assert (
        f"Error: model version {NEWER} cannot be promoted: interval_calibration" in refused.stderr
    )
    shutil.copy(
        artifact(fixed_copy, "interval_calibration", old),
        artifact(fixed_copy, "interval_calibration", NEWER),
    )
    done = cli("promote", NEWER, "--reason", "by hand")
    assert done.returncode == 0, done.stderr
    assert f"champion: {NEWER} (was {old})" in done.stdout
    listed = cli("list").stdout.splitlines()
    assert listed[0].startswith(f"{NEWER}  champion") and listed[1].startswith(f"{old}  retired")
    assert cli("rollback").returncode == 0
    assert crud_on(fixed_copy.database_url).champion_version() == old
    assert crud_on(fixed_copy.database_url).registry_events()[0].actor == "cli"


UNLOADABLE = {  # what each file holds in a version whose sha256 still match its record
    "onnx_model": b"not an onnx graph",
    "scaler_params": b'{"mean": "not numbers"}',
    "interval_calibration": b'{"level": 0.9, "quantiles": [1.0]}',
}


def unloadable_version(project, name: str) -> str:
    """NEWER: a copy of the champion whose `name` file does not load, recorded with the
    sha256 of that file (so only loading it can tell)."""
    old = only_version(project)
    copy_version(project, tuple(ARTIFACTS), old, NEWER)
    path = artifact(project, name, NEWER)
    path.write_bytes(UNLOADABLE[name])
    row = crud_on(project.database_url).get_model_version(old)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    record_as(project, old, NEWER, serving_sha256={**row.serving_sha256, name: digest})
    return old


@pytest.mark.parametrize("name", list(ARTIFACTS))
def test_a_version_that_does_not_load_is_refused_409_before_anything_changes(
    fixed_copy, name
) -> None:
    """Its sha256 match the record, so only loading it (session, scaler, calibration, one
    forecast) can tell: the promotion is refused and nothing is recorded or served."""
    old = unloadable_version(fixed_copy, name)
    with app_client(fixed_copy, api_key=KEY, registry_poll_s=3600.0) as client:
        events = client.get("/api/v1/models").json()["events"]
        refused = client.post(f"/api/v1/models/{NEWER}/promote", headers=AUTH)
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert f"model version {NEWER} cannot be promoted: it does not load" in detail
        assert str(fixed_copy.root) not in refused.text  # names the file, not the path
        assert client.get("/api/v1/models").json()["events"] == events
        assert client.post("/api/v1/predict", json=HISTORY).headers["X-Model-Version"] == old
    assert crud_on(fixed_copy.database_url).champion_version() == old


def test_the_registry_cli_refuses_a_version_that_does_not_load(fixed_copy) -> None:
    old = unloadable_version(fixed_copy, "onnx_model")
    refused = subprocess.run(
        [sys.executable, "-m", "stock_lstm.cli.registry", "promote", NEWER],
        env=kedro_env(fixed_copy.root, fixed_copy.database_url),
        capture_output=True,
        text=True,
        cwd=fixed_copy.root,
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"Error: model version {NEWER} cannot be promoted: it does not load: onnx_model"
    )
    assert "Traceback" not in refused.stderr
    assert crud_on(fixed_copy.database_url).champion_version() == old


def test_a_rollback_to_a_version_that_no_longer_loads_is_refused_409(fixed_copy) -> None:
    """Rollback promotes the previous champion with the same load check."""
    old = only_version(fixed_copy)
    copy_version(fixed_copy, tuple(ARTIFACTS), old, NEWER)
    record_as(fixed_copy, old, NEWER)
    with app_client(fixed_copy, api_key=KEY, registry_poll_s=3600.0) as client:
        promoted = client.post(f"/api/v1/models/{NEWER}/promote", headers=AUTH)
        assert promoted.status_code == 200, promoted.text
        path = artifact(fixed_copy, "onnx_model", old)
        path.write_bytes(UNLOADABLE["onnx_model"])
        row = crud_on(fixed_copy.database_url).get_model_version(old)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        record_as(fixed_copy, old, old, serving_sha256={**row.serving_sha256, "onnx_model": digest})
        refused = client.post("/api/v1/models/rollback", headers=AUTH)
        assert refused.status_code == 409, refused.text
        assert (
            f"model version {old} cannot be promoted: it does not load: onnx_model"
            in (refused.json()["detail"])
        )
        assert client.post("/api/v1/predict", json=HISTORY).headers["X-Model-Version"] == NEWER
    assert crud_on(fixed_copy.database_url).champion_version() == NEWER
