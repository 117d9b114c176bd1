"""API keys (issue 28, finding 6): weak keys stop start-up, several named keys, rotation without
a restart (API_KEYS_FILE re-read when it changes and on SIGHUP), failed attempts rate-limited."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from stock_lstm.api.app import app_or_exit, create_app
from stock_lstm.api.v1.dependencies import security
from tests.api.conftest import GUARDED_GROUP, GUARDED_KEY, GuardedServer, settings_for
from tests.conftest import make_project_copy

ALICE, BOB, CAROL = GUARDED_KEY, "bob-key-0123456789ab", "carol-key-0123456789"
RELOAD = "/api/v1/model/reload"  # behind the key; with no model it then answers 503


def status(client: TestClient | httpx.Client, key: str | None) -> int:
    headers = {"X-API-Key": key} if key is not None else {}
    return client.post(RELOAD, headers=headers).status_code


@pytest.fixture
def bare_project(tmp_path: Path) -> Path:
    """A project copy where no pipeline ran (the keys guard the registry endpoints)."""
    return make_project_copy(tmp_path / "project")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("API_KEY", "x"),
        ("API_KEY", "   "),
        ("API_KEY", " " * 20),
        ("API_KEYS", f"alice:{ALICE},bob:short"),
        ("API_KEYS", f"alice:{ALICE},alice:{BOB}"),
        ("API_KEYS", "no-separator-0123456789"),
    ],
)
def test_a_weak_key_stops_start_up_with_one_line(monkeypatch, variable, value) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as stopped:
        app_or_exit()
    message = str(stopped.value)
    assert message.startswith(f"Error: {variable}: ") and "\n" not in message
    assert repr(value) not in message and ALICE not in message  # no key is echoed


def test_a_keys_file_that_does_not_parse_stops_start_up(monkeypatch, tmp_path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"alice:{ALICE}\nbob:tiny\n")
    monkeypatch.setenv("API_KEYS_FILE", str(keys))
    with pytest.raises(SystemExit) as stopped:
        app_or_exit()
    assert str(stopped.value).startswith("Error: API_KEYS_FILE: key 'bob'")


def test_several_named_keys_each_open_the_door(bare_project, sqlite_url) -> None:
    settings = settings_for(bare_project, sqlite_url, api_keys=(("alice", ALICE), ("bob", BOB)))
    with TestClient(create_app(settings)) as client:
        assert status(client, ALICE) == 503  # past the key check: no model to reload
        assert status(client, BOB) == 503
        assert status(client, CAROL) == 401


def test_the_single_api_key_still_works_under_its_name(bare_project, sqlite_url) -> None:
    settings = settings_for(bare_project, sqlite_url, api_key=ALICE)
    with TestClient(create_app(settings)) as client:
        assert status(client, ALICE) == 503
        assert status(client, BOB) == 401
        assert client.app.state.key_ring.names == ["api-key"]


def test_a_key_is_rotated_through_the_keys_file_without_a_restart(
    bare_project, sqlite_url, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(security, "FILE_CHECK_INTERVAL_S", 0.0)
    keys = tmp_path / "keys"
    keys.write_text(f"# rotated by ops\nalice:{ALICE}\n")
    settings = settings_for(bare_project, sqlite_url, api_keys_file=keys)
    with TestClient(create_app(settings)) as client:
        assert (status(client, ALICE), status(client, BOB)) == (503, 401)
        keys.write_text(f"alice:{ALICE}\nbob:{BOB}\n")  # step 1: both keys open
        assert (status(client, ALICE), status(client, BOB)) == (503, 503)
        keys.write_text(f"bob:{BOB}\n")  # step 2: the old key is gone
        assert (status(client, ALICE), status(client, BOB)) == (401, 503)
        keys.write_text("bob:tiny\n")  # a bad edit keeps the keys that work
        assert status(client, BOB) == 503


def test_repeated_failures_get_429_with_retry_after(bare_project, sqlite_url) -> None:
    settings = settings_for(
        bare_project,
        sqlite_url,
        api_key=ALICE,
        api_key_max_failures=3,
        api_key_failure_window_s=60.0,
    )
    with TestClient(create_app(settings)) as client:
        assert [status(client, f"guess-{i:016d}") for i in range(3)] == [401, 401, 401]
        blocked = client.post(RELOAD, headers={"X-API-Key": "guess-9999999999999999"})
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["Retry-After"]) <= 60
        assert "too many failed" in blocked.json()["detail"]
        assert status(client, ALICE) == 429  # even the right key waits: no guessing on


def test_the_block_ends_when_the_window_passes(bare_project, sqlite_url) -> None:
    settings = settings_for(
        bare_project,
        sqlite_url,
        api_key=ALICE,
        api_key_max_failures=2,
        api_key_failure_window_s=0.5,
    )
    with TestClient(create_app(settings)) as client:
        assert [status(client, None) for _ in range(3)] == [401, 401, 429]
        blocked_at = time.monotonic()
        while (answer := status(client, ALICE)) == 429:  # polled: the window is 0.5 s
            assert time.monotonic() - blocked_at < 10, "the block never ended"
            time.sleep(0.05)
        assert answer == 503  # let through: no model is served in this bare project


@GUARDED_GROUP  # on the worker that starts the shared server for test_slow_clients.py
def test_sighup_reloads_the_keys_file_of_a_running_server(guarded_server: GuardedServer) -> None:
    """On the session's guarded server (tests/api/conftest.py: uvicorn started as `make serve`
    starts it, API_KEYS_FILE naming alice's key at its start); no other test changes its keys."""
    keys, server = guarded_server.keys, guarded_server.process
    assert keys.read_text() == f"alice:{ALICE}\n"
    with httpx.Client(base_url=guarded_server.url, timeout=10) as client:
        assert (status(client, ALICE), status(client, CAROL)) == (503, 401)
        stamp = keys.stat()
        keys.write_text(f"carol:{CAROL}\n")  # same size and time: only SIGHUP tells
        os.utime(keys, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        server.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while status(client, CAROL) != 503:
            assert time.monotonic() < deadline, "SIGHUP did not reload the keys"
            time.sleep(0.1)
        assert status(client, ALICE) == 401
    assert server.poll() is None  # SIGHUP did not end it
