"""The API as a real `uvicorn` subprocess on a socket the test bound first (no free-port pick
that another process could take between the pick and the bind): the socket's descriptor is
passed to uvicorn (`--fd`), and stays open in the test, so a second server can take over the
same address after the first is killed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.common import stop_process as stop  # noqa: F401 (SIGTERM, then SIGKILL)

START_TIMEOUT_S = 180


@contextmanager
def bound_socket() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    try:
        yield sock
    finally:
        sock.close()


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"http://{host}:{port}"


def start_uvicorn(
    sock: socket.socket, env: dict[str, str], log: Path, *options: str
) -> subprocess.Popen:
    """`uvicorn stock_lstm.api.app:app` serving on `sock`, its output appended to `log`."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "stock_lstm.api.app:app",
        "--fd",
        str(sock.fileno()),
        "--no-access-log",
        "--log-level",
        "warning",
        *options,
    ]
    with open(log, "ab") as output:
        return subprocess.Popen(
            command, env=env, stdout=output, stderr=output, pass_fds=[sock.fileno()]
        )


def wait_healthy(url: str, process: subprocess.Popen, *, accept=(200,)) -> httpx.Response:
    """The first /health answer whose status is in `accept`; fails when the server exits.
    One client polls (`httpx.get` builds a client, and its TLS context, per call: ~25 ms of
    CPU per poll, every 50 ms while a server starts)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the server exited with {process.returncode}"
            try:
                response = client.get(f"{url}/health")
                if response.status_code in accept:
                    return response
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer /health with {accept}")
