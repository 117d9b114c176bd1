"""The database goes away and comes back, at start-up and while serving.

A real outage: the app reaches PostgreSQL through a loopback TCP proxy that the test closes
(connections refused, open ones cut, as when the server or the network dies) and reopens.
/health says 503 and why, forecasts from a sent history keep working while the database is
down, nothing answers 500, and everything recovers without restarting the app.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from stock_lstm.api.v1.main import create_app
from tests.api.conftest import settings_for
from tests.conftest import TrainedProject
from tests.helpers.database import crud_on

pytestmark = pytest.mark.postgres
WAIT_S = 60.0


class TcpProxy:
    """127.0.0.1:<port> forwarded to the database server; `down()` closes the port and cuts
    every connection through it, `up()` opens it again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._open = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: threading.Thread | None = None

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.05)
        self._open.set()
        self._listener = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._listener.start()

    def down(self) -> None:
        self._open.clear()
        if self._listener is not None:
            self._listener.join()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self._open.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                upstream = socket.create_connection(self.target)
                with self._lock:
                    self._sockets |= {client, upstream}
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy
    proxy.down()


def through(proxy: TcpProxy, postgres_url: str) -> str:
    return (
        make_url(postgres_url)
        .set(host="127.0.0.1", port=proxy.port)
        .render_as_string(hide_password=False)
    )


def seed(trained: TrainedProject, url: str) -> None:
    """The trained model's model_versions row and clean prices, on the PostgreSQL schema."""
    clean = crud_on(trained.database_url).load_stage_frame("clean")
    saved = crud_on(url).save_stage_frame(clean, "clean", source="copied for the outage test")
    record = crud_on(trained.database_url).get_model_version()
    fields = {**dataclasses.asdict(record), "data_version_id": saved.version.id}
    del fields["status"]
    crud_on(url).record_model_version(**fields, promote=True)


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"not within {WAIT_S}s: {what}"
        time.sleep(0.05)


def test_the_api_rides_out_a_database_outage(trained_project, postgres_url, proxy) -> None:
    seed(trained_project, postgres_url)
    settings = settings_for(trained_project.root, through(proxy, postgres_url), registry_poll_s=0.1)
    history = {"prices": [40.0 + 0.1 * i for i in range(200)]}
    served = 0  # forecasts answered 200: each must be logged or counted as failed

    # 1. The database is down when the API starts.
    with TestClient(create_app(settings)) as client:
        health = client.get("/health")
        assert health.status_code == 503
        body = health.json()
        assert body["database"] == "unavailable" and body["model_version"] is None
        assert "database unavailable: OperationalError" in body["reasons"]
        assert any("cannot read the registry's champion" in r for r in body["reasons"]), body
        response = client.post("/api/v1/predict", json=history)  # unverifiable: not served
        assert response.status_code == 503 and "database unavailable" in response.json()["detail"]
        tickers = client.get("/api/v1/tickers")
        assert tickers.status_code == 503
        assert tickers.json()["detail"].startswith("database unavailable (OperationalError)")

        # 2. It comes back: the model is verified and served, without a restart.
        proxy.up()
        wait_for(lambda: client.get("/health").status_code == 200, "recovery after start-up")
        assert client.post("/api/v1/predict", json={"ticker": "MSFT"}).status_code == 200
        assert client.post("/api/v1/predict", json=history).status_code == 200
        served += 2

        # 3. It goes away while serving.
        proxy.down()
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["database"] == "unavailable"
        assert health.json()["model_version"] == client.app.state.model.version
        for _ in range(5):  # a sent history needs no database
            response = client.post("/api/v1/predict", json=history)
            assert response.status_code == 200, response.text
            served += 1
        for path in ("/api/v1/tickers", "/api/v1/prices/MSFT", "/api/v1/model"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert "database unavailable" in response.json()["detail"], path
        response = client.post("/api/v1/predict", json={"ticker": "MSFT"})
        assert response.status_code == 503, response.text

        # 4. Back again: everything answers, and every forecast was logged or counted.
        proxy.up()
        wait_for(lambda: client.get("/health").status_code == 200, "recovery while serving")
        assert client.get("/api/v1/tickers").status_code == 200
        assert client.post("/api/v1/predict", json={"ticker": "GOOG"}).status_code == 200
        served += 1
        log = client.app.state.prediction_log
        assert log.flush(timeout_s=WAIT_S)
        written, failed = log.written, log.failed
    assert written + failed == served
    assert crud_on(postgres_url).count_predictions() == written >= 3
