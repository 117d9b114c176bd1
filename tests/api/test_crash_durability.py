"""kill -9 of a worker loses no answered forecast (issue 28, finding 1).

A real uvicorn process answers a burst of forecasts while another connection holds the
database's write lock (as a pipeline's save does), so none of them can reach the predictions
table; then the worker is killed with SIGKILL. A new worker on the same socket replays the dead
worker's spool: every answered forecast is stored, exactly once, and nothing is counted as
dropped. SQLite (a writer's lock) and PostgreSQL (a table lock). The workers serve the fixed
project (tests/helpers/fixed_project.py).
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.test_workers import HISTORY, registered_project
from tests.conftest import TrainedProject, kedro_env
from tests.helpers.database import crud_on
from tests.helpers.server import bound_socket, start_uvicorn, stop, url_of, wait_healthy

BURST = 30  # answered, then unstored when the worker dies: each must come back, once
REPLAY_TIMEOUT_S = 60


@contextmanager
def write_locked(database_url: str) -> Iterator[None]:
    """Hold the database's write lock for predictions (readers go on) until the block ends."""
    if database_url.startswith("sqlite:///"):
        connection = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            connection.execute(text("LOCK TABLE predictions IN EXCLUSIVE MODE"))
            yield
            transaction.rollback()
    finally:
        engine.dispose()


def stored_request_ids(database_url: str) -> list[str]:
    rows = crud_on(database_url).recent_predictions(1_000_000)
    return [r["request_id"] for r in rows if (r["request_id"] or "").startswith("burst-")]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_kill_9_during_a_locked_database_burst_loses_no_answered_forecast(
    backend: str, fixed_project: TrainedProject, tmp_path: Path, request
) -> None:
    target = None if backend == "sqlite" else request.getfixturevalue("postgres_url")
    project, database_url, _ = registered_project(fixed_project, tmp_path / "project", target)
    env = kedro_env(project.root, database_url, LOG_LEVEL="WARNING")
    log = tmp_path / "server.log"
    with bound_socket() as sock:
        url = url_of(sock)
        first = start_uvicorn(sock, env, log)
        try:
            wait_healthy(url, first)
            answered = []
            with write_locked(database_url), httpx.Client(timeout=30) as client:
                for i in range(BURST):
                    request_id = f"burst-{i:04d}"
                    response = client.post(
                        f"{url}/api/v1/predict",
                        json={"prices": HISTORY, "horizon": 2},
                        headers={"X-Request-ID": request_id},
                    )
                    assert response.status_code == 200, response.text
                    answered.append(request_id)
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=30)
                assert stored_request_ids(database_url) == []  # nothing got through the lock
            second = start_uvicorn(sock, env, log)
            try:
                wait_healthy(url, second)
                deadline = time.monotonic() + REPLAY_TIMEOUT_S
                while len(stored := stored_request_ids(database_url)) < BURST:
                    assert time.monotonic() < deadline, f"{len(stored)} of {BURST} stored"
                    time.sleep(0.05)
                metrics = httpx.get(f"{url}/metrics", timeout=10).text
            finally:
                stop(second)
        finally:
            stop(first)
            print(log.read_text(errors="replace")[-3000:])
    assert sorted(stored) == answered  # every answered forecast, each exactly once
    assert "prediction_log_dropped_total 0.0" in metrics
