"""Slow and oversized clients are cut off, and a client that leaves is not a server error
(issue 28, finding 2). A real uvicorn, started as `make serve` starts it, and raw sockets."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import GUARDED_TIMEOUT_S, GuardedServer

TIMEOUT_S = GUARDED_TIMEOUT_S  # HEADER_TIMEOUT_SECONDS and BODY_TIMEOUT_SECONDS of the server
BOUND_S = TIMEOUT_S + 4  # a cut-off connection is closed within this


@pytest.fixture(scope="module")
def server(guarded_server: GuardedServer) -> tuple[str, Path]:
    """The server the module's tests share (tests/api/conftest.py guarded_server, started as
    `make serve` starts it; each test opens connections of its own); its log folder."""
    return guarded_server.url, guarded_server.logs


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=BOUND_S)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends before it closes (headers and body may come in separate segments)."""
    sock.settimeout(BOUND_S)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except OSError:
        pass
    return answer


def trickle(sock: socket.socket, data: bytes, interval_s: float = 0.1) -> tuple[bytes, float]:
    """Send `data` a byte at a time; what the server answered and after how long it closed."""
    started = time.monotonic()
    sock.settimeout(interval_s)
    answer = b""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:  # the server has closed the connection
            break
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # reset: the server closed and a byte of ours arrived after it
            break
        if not chunk:
            break
        answer += chunk
        # The server has answered: like a real client, send no more (a byte sent after the
        # server's close draws a reset that can discard the answer not yet read).
        break
    answer += read_until_closed(sock)
    return answer, time.monotonic() - started


def test_headers_sent_a_byte_at_a_time_are_cut_off_with_408(server) -> None:
    url, _ = server
    with connect(url) as sock:
        answer, elapsed = trickle(sock, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 60)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert elapsed < BOUND_S


def test_twenty_slow_clients_are_all_cut_off_in_time(server) -> None:
    url, _ = server
    sockets = [connect(url) for _ in range(20)]
    started = time.monotonic()
    try:
        for sock in sockets:
            sock.sendall(b"GET /health HTTP/1.1\r\n")
        for sock in sockets:
            sock.settimeout(BOUND_S)
            assert sock.recv(65536).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < BOUND_S
        assert httpx.get(f"{url}/health", timeout=10).status_code in (200, 503)  # still serving
    finally:
        for sock in sockets:
            sock.close()


def test_a_body_that_stalls_gets_408(server) -> None:
    url, _ = server
    with connect(url) as sock:
        sock.sendall(
            b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"prices": ['
        )
        started = time.monotonic()
        answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"not received within" in answer
        assert time.monotonic() - started < BOUND_S


@pytest.mark.parametrize("size", [64 * 1024, 8 * 1024 * 1024])
def test_oversized_headers_are_refused_with_431(server, size) -> None:
    url, _ = server
    with connect(url) as sock:
        request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
        try:
            sock.sendall(request)
        except OSError:  # closed while sending: the answer is already waiting
            pass
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


def predict_lines(url: str, client: httpx.Client) -> dict[str, float]:
    """/metrics' request counters of /api/v1/predict, by line (labels)."""
    metrics = client.get(f"{url}/metrics", timeout=10).text
    return {
        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
        for line in metrics.splitlines()
        if line.startswith("http_requests_total") and "/api/v1/predict" in line
    }


def test_a_client_that_leaves_mid_body_is_not_a_server_error(server) -> None:
    url, logs = server
    access_log = logs / "api.log"
    # The server is the module's: only what this test's requests add counts.
    offset = access_log.stat().st_size if access_log.exists() else 0
    with httpx.Client() as client:  # one client: /metrics is polled
        before = predict_lines(url, client)
        for _ in range(3):
            with connect(url) as sock:
                sock.sendall(
                    b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 100\r\n\r\n{"prices": ['
                )
                time.sleep(0.2)
        deadline = time.monotonic() + BOUND_S
        while time.monotonic() < deadline:
            predict = [
                line
                for line, count in predict_lines(url, client).items()
                if count > before.get(line, 0)
            ]
            if predict:
                break
            time.sleep(0.2)
    assert predict and all('status="5xx"' not in line for line in predict), predict
    assert any('status="4xx"' in line for line in predict), predict
    deadline = time.monotonic() + BOUND_S
    while True:  # the access lines are written by a thread of their own: poll for them too
        access = access_log.read_bytes()[offset:].decode() if access_log.exists() else ""
        if '"status": 499' in access or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert '"status": 499' in access or '"status":499' in access, access[-2000:]
    assert '"status": 500' not in access
