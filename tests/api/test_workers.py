"""Two real uvicorn worker processes (not TestClient) on one database follow the registry's
champion: after a promotion or a rollback every response comes from the new champion within
the bound, and under load a promotion fails no request and never shows a version that was not
champion. SQLite (the poll) and PostgreSQL (LISTEN/NOTIFY, with a poll too slow to matter).

Each worker is its own `uvicorn --workers 1` process on its own port, so the test knows which
worker answered; `uvicorn --workers 2` forks the same app into processes just like these. The
workers serve the fixed project (tests/helpers/fixed_project.py) and are started once per
database for the module's tests: each test starts from the first champion served everywhere.

And kill -9 of a worker loses no answered forecast (issue 28, finding 1): a worker answers a
burst of forecasts while another connection holds the database's write lock (as a pipeline's
save does), so none of them can reach the predictions table; then it is killed with SIGKILL. A
new worker on the same socket replays the dead worker's spool: every answered forecast is
stored, exactly once, and nothing is counted as dropped. SQLite (a writer's lock) and
PostgreSQL (a table lock). The new worker takes the dead one's place in the fleet.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.conftest import copy_served_project
from tests.conftest import TrainedProject, _postgres_database, kedro_env
from tests.helpers.database import crud_on
from tests.helpers.server import bound_socket, start_uvicorn, stop, url_of, wait_healthy

KEY = "workers-test-key"
SERVING = ("onnx_model.onnx", "scaler_params.json", "interval_calibration.json")
V2, V3 = "2999-01-01T00.00.00.000Z", "2999-01-02T00.00.00.000Z"
LOAD_MARGIN_S = 5.0  # a check finds the change; loading and warming the ONNX model takes this
HISTORY = [100.0 + (i % 7) * 0.3 + i * 0.05 for i in range(80)]
LOAD_THREADS = 4  # thread t sends its requests to worker t % 2
BURST = 30  # answered, then unstored when the worker dies: each must come back, once
REPLAY_TIMEOUT_S = 60


@dataclasses.dataclass
class Fleet:
    urls: list[str]
    versions: tuple[str, str, str]  # champion, a candidate to promote, a never-promoted one
    bound_s: float
    database_url: str
    # what a test needs to replace a worker: its socket, the environment, its log, its process
    sockets: list[socket.socket]
    env: dict[str, str]
    logs: list[Path]
    processes: list[subprocess.Popen]
    # the tests' HTTP client (`httpx.post` would build a client, and its TLS context, per
    # request: ~25 ms of CPU each, in loops of requests)
    http: httpx.Client


def registered_project(
    served: TrainedProject, root: Path, database_url: str | None
) -> tuple[TrainedProject, str, tuple[str, str, str]]:
    """A copy of the project `served` with versions V2 and V3 (copies of its champion's
    serving files, so complete and verifiable) registered as candidates in `database_url`
    (else the copy's own SQLite file, where its version is the champion)."""
    project = copy_served_project(served, root)
    models = project.root / "data" / "06_models"
    [v1] = [p.name for p in (models / SERVING[0]).iterdir()]
    for version in (V2, V3):
        for name in SERVING:
            (models / name / version).mkdir()
            shutil.copy(models / name / v1 / name, models / name / version / name)
    row = dataclasses.asdict(crud_on(project.database_url).get_model_version(v1))
    del row["status"]
    if database_url is None:
        database_url = project.database_url
    else:  # PostgreSQL: a registry of its own, the copied version its champion
        crud_on(database_url).record_model_version(
            **{**row, "data_version_id": None, "promote": True}
        )
    for version in (V2, V3):
        crud_on(database_url).record_model_version(
            **{**row, "model_version": version, "data_version_id": None}
        )
    assert crud_on(database_url).champion_version() == v1
    return project, database_url, (v1, V2, V3)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def started_fleet(
    request, fixed_project: TrainedProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    """Two workers on a copy of the fixed project, started once per database."""
    tmp_path = tmp_path_factory.mktemp(f"fleet-{request.param}")
    with ExitStack() as stack:
        if request.param == "sqlite":
            poll_s = 0.25  # the poll is what the SQLite workers follow: a change shows within it
            target = None
        else:
            poll_s = 60.0  # far beyond the bound: only LISTEN/NOTIFY can make the test pass
            template = request.getfixturevalue("migrated_postgres_template")
            target = stack.enter_context(_postgres_database(template=template))
        project, database_url, versions = registered_project(
            fixed_project, tmp_path / "project", target
        )
        env = kedro_env(
            project.root,
            database_url,
            API_KEY=KEY,
            REGISTRY_POLL_SECONDS=str(poll_s),
            LOG_LEVEL="WARNING",
        )
        logs = [tmp_path / f"worker{index}.log" for index in range(2)]
        # Each worker serves on a socket the test bound first (no free port picked, released
        # and bound again later, which another process could take in between).
        sockets = [stack.enter_context(bound_socket()) for _ in logs]
        processes = []
        http = stack.enter_context(httpx.Client(timeout=30))
        try:
            for sock, log in zip(sockets, logs, strict=True):
                processes.append(start_uvicorn(sock, env, log))
            urls = [url_of(sock) for sock in sockets]
            for process, url in zip(processes, urls, strict=True):
                wait_healthy(url, process)
            # The bound: SQLite's poll; on PostgreSQL a NOTIFY wakes the workers long before it.
            bound = (poll_s if request.param == "sqlite" else 0.0) + LOAD_MARGIN_S
            yield Fleet(urls, versions, bound, database_url, sockets, env, logs, processes, http)
        finally:
            for process in processes:
                stop(process)
            for log in logs:  # shown by pytest when a test fails
                if log.exists():
                    sys.stderr.write(log.read_text(errors="replace")[-3000:])


@pytest.fixture
def fleet(started_fleet: Fleet) -> Fleet:
    """The module's workers, the first champion served by every one of them (a test that
    failed half-way may have left another champion)."""
    first = started_fleet.versions[0]
    if crud_on(started_fleet.database_url).champion_version() != first:
        crud_on(started_fleet.database_url).promote_model_version(
            first, reason="reset between tests", actor="test"
        )
        converge_within_bound(started_fleet, first)
    return started_fleet


def forecast_version(url: str, client: httpx.Client, request_id: str | None = None) -> str:
    response = client.post(
        f"{url}/api/v1/predict",
        json={"prices": HISTORY, "horizon": 1},
        headers={"X-Request-ID": request_id} if request_id else {},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    header = response.headers["X-Model-Version"]
    assert response.json()["model_version"] == header
    return header


def served(fleet: Fleet, requests_each: int = 10) -> set[str]:
    return {forecast_version(url, fleet.http) for url in fleet.urls for _ in range(requests_each)}


def converge_within_bound(fleet: Fleet, expected: str) -> None:
    """Within the bound every worker serves `expected`; then every response comes from it."""
    deadline = time.monotonic() + fleet.bound_s
    while served(fleet, 1) != {expected} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert served(fleet) == {expected}


def change(fleet: Fleet, worker: int, path: str) -> dict:
    response = fleet.http.post(
        f"{fleet.urls[worker]}{path}", headers={"X-API-Key": KEY}, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_every_worker_follows_promotion_and_rollback(fleet: Fleet) -> None:
    v1, v2, _ = fleet.versions
    assert served(fleet) == {v1}

    promoted = change(fleet, 0, f"/api/v1/models/{v2}/promote")
    assert (promoted["champion"], promoted["previous"], promoted["served_here"]) == (v2, v1, v2)
    converge_within_bound(fleet, v2)

    rolled_back = change(fleet, 1, "/api/v1/models/rollback")
    assert (rolled_back["champion"], rolled_back["previous"]) == (v1, v2)
    converge_within_bound(fleet, v1)

    events = fleet.http.get(f"{fleet.urls[0]}/api/v1/models").json()["events"]
    assert [(e["model_version"], e["to_status"], e["actor"]) for e in events[:2]] == [
        (v1, "champion", "api-key"),
        (v2, "retired", "api-key"),
    ]
    assert events[0]["reason"] == f"rollback from {v2}"


def test_a_promotion_under_load_fails_nothing_and_shows_only_champions(fleet: Fleet) -> None:
    v1, v2, never = fleet.versions
    done = threading.Event()
    seen: list[list[str]] = [[] for _ in range(LOAD_THREADS)]  # versions each thread was served
    failures: list[str] = []
    marker = f"load-{uuid.uuid4().hex[:12]}"  # this test's forecasts in the shared log

    def load(thread: int) -> None:
        with httpx.Client() as client:
            while not done.is_set():
                try:
                    url = fleet.urls[thread % 2]
                    seen[thread].append(forecast_version(url, client, f"{marker}-{thread}"))
                except (AssertionError, httpx.HTTPError) as error:
                    failures.append(repr(error))

    def every_thread_served(version: str, after: list[int], within_s: float) -> list[int]:
        """Polls until each thread got `version` in an answer after its first `after` answers;
        returns how many answers each thread had by then."""
        deadline = time.monotonic() + within_s
        while not all(version in seen[t][after[t] :] for t in range(LOAD_THREADS)):
            assert not failures, failures[:5]
            assert time.monotonic() < deadline, f"{version} not served to every thread in time"
            time.sleep(0.05)
        return [len(versions) for versions in seen]

    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        for thread in range(LOAD_THREADS):
            pool.submit(load, thread)
        try:
            start = every_thread_served(v1, [0] * LOAD_THREADS, 60.0)  # the load is running
            change(fleet, 0, f"/api/v1/models/{v2}/promote")
            promoted = every_thread_served(v2, start, fleet.bound_s)
            change(fleet, 1, "/api/v1/models/rollback")
            every_thread_served(v1, promoted, fleet.bound_s)
        finally:
            done.set()
    assert not failures, failures[:5]
    # Each client saw the old champion, the promoted one, then the old one again: no version
    # that was never champion, and no flicker back once a worker had switched.
    for versions in seen:
        switches = [v for i, v in enumerate(versions) if i == 0 or v != versions[i - 1]]
        assert switches == [v1, v2, v1] and never not in versions, switches
    # The predictions log records the version of each forecast (written in batches: wait).
    deadline = time.monotonic() + 30
    while (logged := logged_versions(fleet, marker)) != {v1, v2} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logged == {v1, v2}


def logged_versions(fleet: Fleet, marker: str) -> set[str]:
    """The versions of the logged forecasts whose request id starts with `marker`."""
    rows = crud_on(fleet.database_url).recent_predictions(1_000_000)
    return {row["model_version"] for row in rows if (row["request_id"] or "").startswith(marker)}


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


def test_kill_9_during_a_locked_database_burst_loses_no_answered_forecast(fleet: Fleet) -> None:
    worker = 1  # killed, then replaced on its socket by a new worker
    url, first = fleet.urls[worker], fleet.processes[worker]
    answered = []
    with write_locked(fleet.database_url), httpx.Client(timeout=30) as client:
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
        assert stored_request_ids(fleet.database_url) == []  # nothing got through the lock
    second = start_uvicorn(fleet.sockets[worker], fleet.env, fleet.logs[worker])
    fleet.processes[worker] = second  # the fleet's from now on (stopped with it)
    wait_healthy(url, second)
    deadline = time.monotonic() + REPLAY_TIMEOUT_S
    while len(stored := stored_request_ids(fleet.database_url)) < BURST:
        assert time.monotonic() < deadline, f"{len(stored)} of {BURST} stored"
        time.sleep(0.05)
    metrics = fleet.http.get(f"{url}/metrics", timeout=10).text
    assert sorted(stored) == answered  # every answered forecast, each exactly once
    assert "prediction_log_dropped_total 0.0" in metrics
