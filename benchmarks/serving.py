"""Serving: the project's API next to the floor of its stack (benchmarks/minimal_app.py: the same
ONNX model behind a bare FastAPI app), side by side in one run on this machine (issue 27).

The model is trained for this run in a temporary copy of the project (the bundled snapshot,
default architecture, two epochs: serving speed does not depend on how well it forecasts) on a
temporary SQLite file, which also holds the stored closes a `{"ticker": "MSFT"}` forecast reads
and the predictions log the API writes. Nothing of the project's own data or database is used.

Both servers are `uvicorn` processes, the API exactly as `make serve` starts it (same `--http`
protocol, log level and per-request log line), each handed a socket this process bound first
(`--fd`). Latency: 1,000 rounds of one request to each of the three endpoints, interleaved, each
endpoint on its own kept-alive connection; throughput: 1 and 2 workers, 4 and 16 requests in
flight (`--concurrency`), the three endpoints in alternating bursts. The load generator is this
process (a lean HTTP/1.1 client on raw sockets, so its own cost stays small next to the
servers'), on the same CPUs as the servers.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    PROJECT_ROOT,
    BenchmarkFailed,
    Options,
    bound_socket,
    latency_stats,
    project_copy,
    rss_mb,
    stop_process,
    time_calls,
)
from benchmarks.minimal_app import FILES

# `make serve`'s protocol (Makefile SERVE_HTTP; tests/benchmarks/test_serving.py keeps them equal)
SERVE_HTTP = "stock_lstm.api.server:GuardedHttpToolsProtocol"
MINIMAL_APP = "benchmarks.minimal_app:app_from_environment"
TICKER = "MSFT"
HISTORY = 61  # closes in a sent-prices body: the model's window + 1
TRAIN_PARAMS = "ingestion.source=csv,training.fit.epochs=2"
TRAIN_PIPELINES = "ingestion,cleaning,feature_engineering,training,evaluation"
START_REPEATS = 5  # cold starts per app (the median is judged: the CPUs are shared)
WORKERS = (1, 2)
CLIENTS = (4, 16)  # requests in flight in the throughput phases (--concurrency's default)
ROUNDS = 4  # throughput: each endpoint's requests in this many bursts, alternating endpoints
WARM_UP = 200
SERVER_START_TIMEOUT_S = 180
TARGETS = {  # issue 27, side by side on this machine
    "stored_ticker_p50_over_minimal": 1.5,
    "sent_prices_p50_over_minimal": 1.5,
    "worker_rss_over_minimal": 1.6,
    "cold_start_s": 1.5,
    "errors": 0,
}
ENDPOINTS = ("minimal", "prices", "ticker")  # the floor, then the API's two modes
LABELS = {
    "minimal": "minimal app POST /predict (sent prices)",
    "prices": "API POST /api/v1/predict {prices: [61]}",
    "ticker": f'API POST /api/v1/predict {{"ticker": "{TICKER}"}}',
}


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainedModel:
    root: Path  # the temporary project
    database_url: str
    version: str
    files: Path  # the version's three serving files, as benchmarks/minimal_app.py reads them
    train_s: float
    prices: list[float]  # TICKER's newest HISTORY stored closes: the sent-prices body


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without what would point a server or a run elsewhere or change its
    log level (a user's LOG_LEVEL, KEDRO_ENV, data or log folder, tracking store)."""
    dropped = ("LOG_LEVEL", "KEDRO_ENV", "STOCK_LSTM_DATA_DIR", "LOG_DIR", "MLFLOW_TRACKING_URI")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    return {**env, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def train(tmp: Path) -> TrainedModel:
    """One `kedro run` of the stages up to evaluation (which promotes the version) in a
    temporary project copy; the champion's serving files copied for the minimal app."""
    from stock_lstm.data_pipeline.model_registry import newest_artifact_version

    root = project_copy(tmp / "project")
    url = f"sqlite:///{tmp / 'serving.db'}"
    env = _clean_env(DATABASE_URL=url, STOCK_LSTM_PROJECT_ROOT=str(root))
    command = [sys.executable, "-m", "kedro", "run", "--pipelines", TRAIN_PIPELINES]
    command += ["--params", TRAIN_PARAMS]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    train_s = time.perf_counter() - started
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-3000:]
        raise BenchmarkFailed(
            f"training the served model failed (exit {done.returncode}):\n{output}"
        )
    files = tmp / "minimal-app-model"
    files.mkdir()
    versions = set()
    for file in FILES.values():
        folder = root / "data" / "06_models" / file
        version = newest_artifact_version(str(folder))
        versions.add(version)
        shutil.copy(folder / version / file, files / file)
    if len(versions) != 1:
        raise BenchmarkFailed(f"the serving files are of different versions: {sorted(versions)}")
    return TrainedModel(root, url, versions.pop(), files, round(train_s, 1), _stored(url))


def _stored(url: str) -> list[float]:
    """TICKER's newest stored closes, read here as the API reads them (not through one of its
    endpoints: one that builds a frame would import pandas into the worker measured)."""
    from stock_lstm.data_pipeline import crud
    from stock_lstm.data_pipeline.database import dispose_engines, get_database

    try:
        with get_database(url).session() as session:
            stored = crud.newest_closes(session, TICKER, HISTORY)
    finally:
        dispose_engines()
    if stored is None or stored.closes.size != HISTORY:
        raise BenchmarkFailed(f"the trained project does not hold {HISTORY} closes of {TICKER}")
    return stored.closes.tolist()


# --- servers -----------------------------------------------------------------------------------


def serve_command(fd: int, workers: int) -> list[str]:
    """The API as `make serve` starts it (Makefile `serve`), on the bound socket `fd`."""
    return [
        *(sys.executable, "-m", "uvicorn", "stock_lstm.api.app:app"),
        *("--fd", str(fd), "--workers", str(workers)),
        *("--no-access-log", "--http", SERVE_HTTP),
    ]


def minimal_command(fd: int, workers: int) -> list[str]:
    """The minimal app: no access log, uvicorn's warnings only (it logs nothing itself)."""
    return [
        *(sys.executable, "-m", "uvicorn", "--factory", MINIMAL_APP),
        *("--app-dir", str(PROJECT_ROOT), "--fd", str(fd), "--workers", str(workers)),
        *("--no-access-log", "--log-level", "warning"),
    ]


@dataclass
class Server:
    name: str
    sock: socket.socket
    process: subprocess.Popen
    log: Path
    workers: int

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def worker_pids(self) -> list[int]:
        """uvicorn itself with one worker; with more, its children started by
        multiprocessing's spawn (not its resource tracker)."""
        pid = self.process.pid
        if self.workers == 1:
            return [pid]
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [
            int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()
        ]

    def cpu_seconds(self) -> float:
        """User + system CPU time its workers used so far (all their threads)."""
        ticks = 0
        for pid in self.worker_pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def failure(self, what: str) -> BenchmarkFailed:
        tail = self.log.read_text(errors="replace")[-2000:]
        return BenchmarkFailed(f"{self.name}: {what}; its log:\n{tail}")


@contextmanager
def running(name: str, model: TrainedModel, workers: int, logs: Path) -> Iterator[Server]:
    """The API (`name` "api") or the minimal app (`name` "minimal") with `workers` workers,
    serving on a socket bound here, until the block ends."""
    sock = bound_socket()
    fd = sock.fileno()
    if name == "api":
        command = serve_command(fd, workers)
        env = _clean_env(DATABASE_URL=model.database_url, STOCK_LSTM_PROJECT_ROOT=str(model.root))
        cwd = model.root
    else:
        command = minimal_command(fd, workers)
        env = _clean_env(MINIMAL_APP_MODEL_DIR=str(model.files))
        cwd = PROJECT_ROOT
    log = logs / f"{name}-{workers}w-{time.monotonic_ns()}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, pass_fds=[fd]
        )
    server = Server(name, sock, process, log, workers)
    try:
        yield server
    finally:
        stop_process(process)
        sock.close()


# --- a lean HTTP/1.1 client ------------------------------------------------------------------


def request_bytes(method: str, path: str, body: Any = None) -> bytes:
    payload = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return (head + "\r\n").encode() + payload


def parse_head(head: bytes) -> tuple[int, int]:
    """(status, Content-Length) of a response's head (the bytes before the blank line)."""
    status_line, *fields = head.split(b"\r\n")
    status = int(status_line.split()[1])
    for field in fields:
        name, _, value = field.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, int(value)
    raise BenchmarkFailed(f"a response without Content-Length: {status_line!r}")


class Connection:
    """One kept-alive connection, one request at a time."""

    def __init__(self, address: tuple[str, int], timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def exchange(self, raw: bytes) -> tuple[int, bytes]:
        self.sock.sendall(raw)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._receive()
        status, length = parse_head(self.buffer[:end])
        start = end + 4
        while len(self.buffer) < start + length:
            self._receive()
        body = self.buffer[start : start + length]
        self.buffer = self.buffer[start + length :]
        return status, body

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def get_json(address: tuple[str, int], raw: bytes) -> tuple[int, Any]:
    connection = Connection(address)
    try:
        status, body = connection.exchange(raw)
    finally:
        connection.close()
    return status, json.loads(body)


def wait_ready(server: Server, started: float) -> float:
    """Seconds from `started` (the process start) to the server's first /health 200. The
    socket listens from the start, so a request waits in its queue until uvicorn serves it."""
    raw = request_bytes("GET", "/health")
    deadline = started + SERVER_START_TIMEOUT_S
    while time.perf_counter() < deadline:
        if server.process.poll() is not None:
            raise server.failure(f"exited with code {server.process.returncode} at start")
        try:
            connection = Connection(server.address, timeout=0.5)
            try:
                while time.perf_counter() < deadline:
                    status, _ = connection.exchange(raw)
                    if status == 200:
                        return time.perf_counter() - started
                    time.sleep(0.01)  # up, but not ready yet (503 while the model loads)
            finally:
                connection.close()
        except OSError:  # not serving yet: timed out, or reset while it starts
            continue
    raise server.failure(f"no /health 200 within {SERVER_START_TIMEOUT_S} s")


async def _burst(address: tuple[str, int], raw: bytes, count: int, clients: int) -> dict[str, Any]:
    """`count` requests with `clients` in flight, each client on its own connection."""
    durations: list[float] = []
    errors = 0
    remaining = iter(range(count))

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(*address)
        try:
            for _ in remaining:
                started = time.perf_counter()
                try:
                    writer.write(raw)
                    head = await reader.readuntil(b"\r\n\r\n")
                    status, length = parse_head(head[:-4])
                    await reader.readexactly(length)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    errors += 1  # reset, closed: an error, then a new connection
                    writer.close()
                    reader, writer = await asyncio.open_connection(*address)
                    continue
                durations.append(time.perf_counter() - started)
                errors += status != 200
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return {"durations": durations, "errors": errors, "wall_s": time.perf_counter() - started}


# --- measurements ------------------------------------------------------------------------------


def _bodies(prices: list[float]) -> dict[str, bytes]:
    """Each endpoint's request; the sent prices are the ticker's newest stored closes."""
    return {
        "minimal": request_bytes("POST", "/predict", {"prices": prices, "horizon": 1}),
        "prices": request_bytes("POST", "/api/v1/predict", {"prices": prices, "horizon": 1}),
        "ticker": request_bytes("POST", "/api/v1/predict", {"ticker": TICKER, "horizon": 1}),
    }


def _check_same_forecast(api: Server, minimal: Server, bodies: dict[str, bytes], version: str):
    """The floor does the same work: the minimal app's forecast equals the API's for the same
    closes, and the API serves the trained version."""
    status, served = get_json(api.address, bodies["prices"])
    floor_status, floor = get_json(minimal.address, bodies["minimal"])
    if status != 200 or floor_status != 200:
        raise BenchmarkFailed(f"a forecast failed: API {status} {served}, minimal {floor}")
    if served["model_version"] != version:
        raise BenchmarkFailed(f"the API serves {served['model_version']}, not {version}")
    for ours, theirs in zip(served["predictions"], floor["predictions"], strict=True):
        for key in ("close", "lower", "upper"):
            if not math.isclose(ours[key], theirs[key], rel_tol=1e-9):
                raise BenchmarkFailed(f"the minimal app's {key} {theirs} differs from {ours}")


def _interleaved_latency(servers: dict[str, Server], bodies: dict[str, bytes], count: int):
    """`count` rounds of one request per endpoint, in rotating order, each endpoint on one
    kept-alive connection of its own."""
    connections = {e: Connection(servers[e].address) for e in ENDPOINTS}
    durations: dict[str, list[float]] = {e: [] for e in ENDPOINTS}
    errors = 0
    try:
        for i in range(count):
            for endpoint in ENDPOINTS[i % 3 :] + ENDPOINTS[: i % 3]:
                started = time.perf_counter()
                status, _ = connections[endpoint].exchange(bodies[endpoint])
                durations[endpoint].append(time.perf_counter() - started)
                errors += status != 200
    finally:
        for connection in connections.values():
            connection.close()
    return {e: latency_stats(d) for e, d in durations.items()}, errors


def _throughput(servers: dict[str, Server], bodies: dict[str, bytes], count: int, clients: int):
    """`count` requests per endpoint with `clients` in flight, in ROUNDS bursts per endpoint,
    the endpoints alternating: requests/s, p50/p99 and errors of each, and the server's CPU
    time per request (its workers' user + system time over the bursts: what other work on the
    machine does not inflate, unlike latency)."""
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in ENDPOINTS}
    for i in range(ROUNDS):
        for endpoint in ENDPOINTS[i % 3 :] + ENDPOINTS[: i % 3]:
            server = servers[endpoint]
            burst = _burst(server.address, bodies[endpoint], count // ROUNDS, clients)
            cpu_before = server.cpu_seconds()
            runs[endpoint].append(asyncio.run(burst))
            runs[endpoint][-1]["cpu_s"] = server.cpu_seconds() - cpu_before
    cells = {}
    for endpoint, bursts in runs.items():
        durations = [d for b in bursts for d in b["durations"]]
        stats = latency_stats(durations)
        cells[endpoint] = {
            "requests_per_s": round(len(durations) / sum(b["wall_s"] for b in bursts), 1),
            "p50_ms": stats["p50_ms"],
            "p99_ms": stats["p99_ms"],
            "n": stats["n"],
            "server_cpu_ms_per_request": round(
                1000 * sum(b["cpu_s"] for b in bursts) / max(stats["n"], 1), 3
            ),
            "errors": sum(b["errors"] for b in bursts) + (count // ROUNDS * ROUNDS - stats["n"]),
        }
    return cells


def side_by_side(model: TrainedModel, workers: int, options: Options, logs: Path) -> dict:
    with (
        running("api", model, workers, logs) as api,
        running("minimal", model, workers, logs) as minimal,
    ):
        for server in (api, minimal):
            wait_ready(server, time.perf_counter())
        bodies = _bodies(model.prices)
        _check_same_forecast(api, minimal, bodies, model.version)
        servers = {"minimal": minimal, "prices": api, "ticker": api}
        _throughput(servers, bodies, WARM_UP * len(ENDPOINTS), 2)  # warm-up, not recorded
        result: dict[str, Any] = {"workers": workers}
        errors = 0
        if workers == 1:
            result["latency"], errors = _interleaved_latency(servers, bodies, options.requests)
        result["throughput"] = {
            f"{clients}_clients": _throughput(servers, bodies, options.requests, clients)
            for clients in options.concurrency
        }
        result["worker_rss_mib"] = {
            "api": [rss_mb(pid)["rss_mb"] for pid in api.worker_pids()],
            "minimal": [rss_mb(pid)["rss_mb"] for pid in minimal.worker_pids()],
        }
        for server in (api, minimal):
            if server.process.poll() is not None:
                raise server.failure("exited during the measurement")
    errors += sum(
        cell["errors"] for level in result["throughput"].values() for cell in level.values()
    )
    result["errors"] = errors
    return result


def cold_starts(model: TrainedModel, logs: Path) -> dict[str, Any]:
    """Process start to the first /health 200, one worker, the two apps alternating; and the
    CPU time the worker used by then (what other work on the machine does not inflate)."""
    runs: dict[str, list[float]] = {"api": [], "minimal": []}
    cpu: dict[str, list[float]] = {"api": [], "minimal": []}
    for _ in range(START_REPEATS):
        for name in runs:
            started = time.perf_counter()
            with running(name, model, 1, logs) as server:
                runs[name].append(round(wait_ready(server, started), 3))
                cpu[name].append(round(server.cpu_seconds(), 2))
    return {
        name: {
            "median_s": round(float(np.median(r)), 3),
            "runs_s": r,
            "worker_cpu_median_s": round(float(np.median(cpu[name])), 2),
        }
        for name, r in runs.items()
    }


def in_process(model: TrainedModel, calls: int) -> dict[str, Any]:
    """The forecaster alone (no HTTP): a whole forecast, and the ONNX run inside it."""
    from stock_lstm.ml_models.serving.onnx_forecaster import forecaster_from_files

    forecaster = forecaster_from_files(
        {name: (model.files / file).read_bytes() for name, file in FILES.items()}
    )
    closes = 100.0 * np.exp(np.cumsum(np.full(forecaster.min_history, 0.001)))
    batch = forecaster.inputs(closes[np.newaxis])
    return {
        "forecast_h1": latency_stats(time_calls(lambda: forecaster.forecast(closes, 1), calls)),
        "onnx_run_only": latency_stats(time_calls(lambda: forecaster.model_output(batch), calls)),
    }


def run(options: Options) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="stock-lstm-bench-serving-") as tmp:
        model = train(Path(tmp))
        logs = Path(tmp) / "logs"
        logs.mkdir()
        load_before = os.getloadavg()[0]
        results: dict[str, Any] = {
            "model": {
                "version": model.version,
                "trained": f"kedro run --pipelines {TRAIN_PIPELINES} --params {TRAIN_PARAMS}",
                "train_s": model.train_s,
            },
            "in_process": in_process(model, options.calls),
            "cold_start_to_first_health_200": cold_starts(model, logs),
        }
        for workers in WORKERS:
            results[f"{workers}_worker" if workers == 1 else f"{workers}_workers"] = side_by_side(
                model, workers, options, logs
            )
        results["load_average_1min"] = {
            "before": round(load_before, 2),
            "after": round(os.getloadavg()[0], 2),
        }
    results["load_generator"] = (
        f"this process, a raw-socket HTTP/1.1 client (latency: one kept-alive connection per "
        f"endpoint; throughput: asyncio, each client its own connection), on the same "
        f"{os.cpu_count()} CPUs as the servers"
    )
    results["targets"] = targets(results)
    return results


def targets(results: dict[str, Any]) -> dict[str, Any]:
    one = results["1_worker"]
    latency, rss = one["latency"], one["worker_rss_mib"]
    floor = latency["minimal"]["p50_ms"]
    measured = {
        "stored_ticker_p50_over_minimal": latency["ticker"]["p50_ms"] / floor,
        "sent_prices_p50_over_minimal": latency["prices"]["p50_ms"] / floor,
        "worker_rss_over_minimal": max(rss["api"]) / max(rss["minimal"]),
        "cold_start_s": results["cold_start_to_first_health_200"]["api"]["median_s"],
        "errors": sum(results[k]["errors"] for k in results if k.endswith(("_worker", "_workers"))),
    }
    return {
        name: {
            "measured": round(measured[name], 2),
            "target": target,
            "met": measured[name] <= target,
        }
        for name, target in TARGETS.items()
    }


def table(figures: dict[str, Any]) -> str:
    """The side-by-side table `python -m benchmarks serving` prints."""
    one = figures["1_worker"]
    floor = one["latency"]["minimal"]["p50_ms"]
    lines = [
        f"latency, 1 worker each, {one['latency']['minimal']['n']} interleaved calls per endpoint:",
        f"  {'request':<48} {'p50 ms':>8} {'p99 ms':>8} {'x floor':>8}",
    ]
    for endpoint in ENDPOINTS:
        stats = one["latency"][endpoint]
        lines.append(
            f"  {LABELS[endpoint]:<48} {stats['p50_ms']:>8.3f} {stats['p99_ms']:>8.3f} "
            f"{stats['p50_ms'] / floor:>8.2f}"
        )
    lines.append("throughput (requests/s; p50/p99 ms; errors):")
    lines.append(f"  {'workers, in flight':<20}" + "".join(f"{e:>28}" for e in ENDPOINTS))
    for workers in WORKERS:
        entry = figures["1_worker" if workers == 1 else f"{workers}_workers"]
        for level, cells in entry["throughput"].items():
            row = "".join(
                f"{c['requests_per_s']:>9.0f} {c['p50_ms']:>6.2f}/{c['p99_ms']:<6.2f} {c['errors']:>4}"
                for c in (cells[e] for e in ENDPOINTS)
            )
            in_flight = f"{workers}, {level.split('_')[0]}"
            lines.append(f"  {in_flight:<20}{row}")
    first = next(iter(one["throughput"]))  # the first --concurrency level
    cpu = one["throughput"][first]
    floor_cpu = cpu["minimal"]["server_cpu_ms_per_request"]
    lines.append(
        f"server CPU ms per request (1 worker, {first.split('_')[0]} in flight; "
        "not inflated by load): "
        + ", ".join(
            f"{e} {cpu[e]['server_cpu_ms_per_request']:.3f}"
            + (f" ({cpu[e]['server_cpu_ms_per_request'] / floor_cpu:.2f}x)" if floor_cpu else "")
            for e in ENDPOINTS
        )
    )
    rss = one["worker_rss_mib"]
    starts = figures["cold_start_to_first_health_200"]
    lines.append(f"worker RSS: API {max(rss['api'])} MiB, minimal {max(rss['minimal'])} MiB")
    lines.append(
        f"cold start to first /health 200 (median of {len(starts['api']['runs_s'])}): "
        f"API {starts['api']['median_s']} s, minimal {starts['minimal']['median_s']} s"
        + (
            f"; the worker's CPU time by then: API {starts['api']['worker_cpu_median_s']} s, "
            f"minimal {starts['minimal']['worker_cpu_median_s']} s"
            if "worker_cpu_median_s" in starts["api"]
            else ""
        )
    )
    lines.append("targets:")
    for name, check in figures["targets"].items():
        verdict = "met" if check["met"] else "NOT met"
        lines.append(f"  {name:<34} {check['measured']:>8} <= {check['target']:<6} {verdict}")
    return "\n".join(lines)
