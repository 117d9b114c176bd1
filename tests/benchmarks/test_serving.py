"""The serving benchmark's plumbing: the API runs as `make serve` starts it, its lean HTTP client
reads responses split across segments and several on one connection, and its targets are the
ratios the issue names."""

from __future__ import annotations

import re
import shlex
import socket
import threading

import pytest

from benchmarks import serving
from benchmarks.common import PROJECT_ROOT, BenchmarkFailed, bound_socket


def _make_serve() -> list[str]:
    """`make serve`'s uvicorn options, with the Makefile's variables expanded."""
    text = (PROJECT_ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Z_]+) :?= (.*)$", text, re.MULTILINE))
    recipe = re.search(r"^serve: .*\n\t\$\(BIN\)/uvicorn (.*)$", text, re.MULTILINE).group(1)
    expanded = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), recipe)
    return shlex.split(expanded)


def _without(tokens: list[str], *options: str) -> list[str]:
    kept, skip = [], False
    for token in tokens:
        if skip:
            skip = False
        elif token in options:
            skip = True
        else:
            kept.append(token)
    return kept


def test_the_benchmarked_api_runs_as_make_serve_starts_it() -> None:
    command = serving.serve_command(7, 2)
    uvicorn = command.index("uvicorn")
    assert command[uvicorn + 1 :][command[uvicorn + 1 :].index("--fd") + 1] == "7"
    assert _without(command[uvicorn + 1 :], "--fd", "--workers") == _without(
        _make_serve(), "--host", "--port", "--workers"
    )
    assert "--log-level" not in command  # make serve's level and per-request log line


def _serve_once(sock: socket.socket, chunks: list[bytes]) -> threading.Thread:
    def answer() -> None:
        connection, _ = sock.accept()
        with connection:
            for chunk in chunks:
                connection.sendall(chunk)
                threading.Event().wait(0.01)  # separate segments

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


def test_the_client_reads_split_and_back_to_back_responses_on_one_connection() -> None:
    sock = bound_socket()
    try:
        first = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        second = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\n\r\nno"
        stream = first + second
        thread = _serve_once(sock, [stream[:20], stream[20:40], stream[40:]])
        connection = serving.Connection(sock.getsockname(), timeout=10)
        try:
            assert connection.exchange(b"") == (200, b"hello")
            assert connection.exchange(b"") == (503, b"no")
        finally:
            connection.close()
        thread.join(10)
    finally:
        sock.close()


def test_a_response_without_content_length_fails_the_benchmark() -> None:
    with pytest.raises(BenchmarkFailed, match="without Content-Length"):
        serving.parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked")


def test_the_targets_are_the_api_over_the_minimal_app() -> None:
    def cell(p50: float) -> dict:
        return {"p50_ms": p50, "p99_ms": 2 * p50, "n": 10}

    results = {
        "1_worker": {
            "latency": {"minimal": cell(1.0), "prices": cell(1.4), "ticker": cell(2.0)},
            "worker_rss_mib": {"api": [150.0], "minimal": [100.0]},
            "errors": 0,
        },
        "2_workers": {"errors": 3},
        "cold_start_to_first_health_200": {"api": {"median_s": 1.2}},
    }
    found = serving.targets(results)
    assert {name: (c["measured"], c["met"]) for name, c in found.items()} == {
        "stored_ticker_p50_over_minimal": (2.0, False),
        "sent_prices_p50_over_minimal": (1.4, True),
        "worker_rss_over_minimal": (1.5, True),
        "cold_start_s": (1.2, True),
        "errors": (3, False),
    }


def test_the_table_shows_each_endpoint_against_the_floor() -> None:
    def cell(p50: float, cpu: float) -> dict:
        return {
            "requests_per_s": 1000 / p50,
            "p50_ms": p50,
            "p99_ms": 2 * p50,
            "n": 8,
            "server_cpu_ms_per_request": cpu,
            "errors": 0,
        }

    def entry(workers: int) -> dict:
        return {
            "workers": workers,
            "latency": {"minimal": cell(0.8, 0), "prices": cell(1.0, 0), "ticker": cell(2.0, 0)},
            "throughput": {
                f"{clients}_clients": {
                    "minimal": cell(1.0, 0.4),
                    "prices": cell(1.2, 0.6),
                    "ticker": cell(1.6, 1.0),
                }
                for clients in serving.CLIENTS
            },
            "worker_rss_mib": {"api": [150.0] * workers, "minimal": [100.0] * workers},
            "errors": 0,
        }

    figures = {
        "1_worker": entry(1),
        "2_workers": entry(2),
        "cold_start_to_first_health_200": {
            "api": {"median_s": 1.2, "runs_s": [1.2], "worker_cpu_median_s": 1.1},
            "minimal": {"median_s": 0.9, "runs_s": [0.9], "worker_cpu_median_s": 0.6},
        },
    }
    figures["targets"] = serving.targets(figures)
    lines = serving.table(figures).splitlines()

    [start] = [line for line in lines if line.startswith("cold start")]
    assert "API 1.2 s, minimal 0.9 s; the worker's CPU time by then: API 1.1 s, minimal 0.6 s" in (
        start
    )

    [ticker] = [line for line in lines if serving.LABELS["ticker"] in line]
    assert ticker.split()[-3:] == ["2.000", "4.000", "2.50"]
    [cpu] = [line for line in lines if line.startswith("server CPU")]
    assert "prices 0.600 (1.50x)" in cpu and "ticker 1.000 (2.50x)" in cpu
    assert any("stored_ticker_p50_over_minimal" in line and "NOT met" in line for line in lines)
