"""A database outage on demand: a loopback TCP proxy to PostgreSQL that can be cut and restored."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import make_url

from tests.conftest import TrainedProject
from tests.helpers.database import crud_on

WAIT_S = 60.0


class TcpProxy:
    """127.0.0.1:<port> forwarded to the database server; `down()` closes the port (connections
    refused) and cuts every connection through it, `up()` opens it again on the same port.

    The port stays bound from start to `close()`, also while it is closed to connections (a
    listening socket shut down for reading refuses them and keeps its port), so no other socket
    can take it between an outage and a recovery, as one could take a port picked, released and
    bound again later. `up()` binds a fresh listener beside the shut one (SO_REUSEPORT) before
    letting that one go."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = _listening(0)
        self._listener.shutdown(socket.SHUT_RD)  # down until `up()`
        self.port = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._acceptor: threading.Thread | None = None

    def up(self) -> None:
        shut, self._listener = self._listener, _listening(self.port)
        shut.close()
        self._open.set()
        self._acceptor = threading.Thread(target=self._accept, args=(self._listener,), daemon=True)
        self._acceptor.start()

    def down(self) -> None:
        self._open.clear()
        self._listener.shutdown(socket.SHUT_RD)  # refuses new connections, keeps the port
        if self._acceptor is not None:
            self._acceptor.join()
        with self._lock:
            for sock in self._sockets:
                _cut(sock)
                sock.close()
            self._sockets.clear()

    def close(self) -> None:
        if self._open.is_set():
            self.down()
        self._listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._open.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:  # shut down by `down()`
                return
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
                _cut(sock)


def _listening(port: int) -> socket.socket:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen()
    listener.settimeout(0.05)
    return listener


def _cut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def through(proxy: TcpProxy, postgres_url: str) -> str:
    return (
        make_url(postgres_url)
        .set(host="127.0.0.1", port=proxy.port)
        .render_as_string(hide_password=False)
    )


def seed(project: TrainedProject, url: str) -> None:
    """The project's model_versions row and clean prices, on the PostgreSQL database `url`."""
    clean = crud_on(project.database_url).load_stage_frame("clean")
    saved = crud_on(url).save_stage_frame(clean, "clean", source="copied for the outage test")
    record = crud_on(project.database_url).get_model_version()
    fields = {**dataclasses.asdict(record), "data_version_id": saved.version.id}
    del fields["status"]
    crud_on(url).record_model_version(**fields, promote=True)


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"not within {WAIT_S}s: {what}"
        time.sleep(0.05)
