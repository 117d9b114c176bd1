"""Serving: one API worker's memory and start-up, its forecast speed in-process and over HTTP
(next to /health on the same connection), and throughput with 1 and 2 uvicorn workers.

The API serves the registry's champion through ONNX Runtime (no TensorFlow in the process).
The servers run on a throw-away SQLite file holding only the champion's registry row, on free
loopback ports; the load generator is this process (httpx, asyncio) on the same CPUs.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    BenchmarkSkipped,
    Options,
    latency_stats,
    rss_mb,
    time_calls,
    uvicorn_command,
)

HISTORY = 61  # closes in the HTTP body: the "61 prices"
START_REPEATS = 5  # start-up is timed this often (the median is judged: the CPUs are shared)
SERVER_START_TIMEOUT_S = 180
TARGETS = {  # issue 11, on this machine
    "worker_rss_mib": 250.0,
    "start_to_first_health_200_s": 3.0,
    "http_predict_over_health_p50": 1.5,
    "http_errors": 0,
}


def _champion() -> tuple[Any, Any]:
    """The project's model store and its loaded champion."""
    from stock_lstm.api.v1.services.model_store import ModelStore, ModelUnavailable
    from stock_lstm.common.settings import get_settings

    try:
        from stock_lstm.data_pipeline.database import get_database

        store = ModelStore.configured(get_settings(), get_database())
        champion = store.champion()
        if champion is None:
            raise BenchmarkSkipped("the registry has no champion: run `make pipeline`")
        return store, store.load(champion)
    except ModelUnavailable as error:
        raise BenchmarkSkipped(str(error)) from error


def _history(length: int) -> list[float]:
    """The newest stored closes of the first ticker, else a reproducible random walk."""
    try:
        from stock_lstm.data_pipeline import crud
        from stock_lstm.data_pipeline.database import get_database

        with get_database().session() as session:
            summaries = crud.ticker_summaries(session, "clean")
            frame = (
                crud.load_ticker_prices(session, summaries[0].ticker, limit=length)
                if summaries
                else None
            )
        if frame is not None:
            if len(frame) == length:
                return [float(v) for v in frame["close"]]
    except Exception:  # no database yet: the random walk is as good for timing
        pass
    steps = np.random.default_rng(0).normal(0.0003, 0.012, length)
    return [float(v) for v in 100.0 * np.exp(np.cumsum(steps))]


def in_process(options: Options) -> dict[str, Any]:
    _, loaded = _champion()
    forecaster = loaded.forecaster
    closes = np.asarray(_history(max(HISTORY, forecaster.min_history)))
    results: dict[str, Any] = {"model_version": loaded.version, "runtime": "onnxruntime"}
    for horizon in (1, forecaster.max_horizon):
        durations = time_calls(lambda h=horizon: forecaster.forecast(closes, h), options.calls)
        results[f"forecast_h{horizon}"] = latency_stats(durations)
    batch = forecaster.inputs(closes[np.newaxis, -forecaster.min_history :])
    results["onnx_run_only"] = latency_stats(
        time_calls(lambda: forecaster.model_output(batch), options.calls)
    )
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker_pids(pid: int, workers: int) -> list[int]:
    """The processes that serve: uvicorn itself with one worker; with more, its children
    started by multiprocessing's spawn (not its resource tracker)."""
    if workers == 1:
        return [pid]
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


async def _wait_ready(client: Any, url: str, process: subprocess.Popen, started: float) -> float:
    """Seconds from the process start to the first /health 200."""
    deadline = started + SERVER_START_TIMEOUT_S
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            response = await client.get(f"{url}/health")
            if response.status_code == 200:
                return time.perf_counter() - started
            if response.status_code == 503 and "no champion" in response.text:
                raise BenchmarkSkipped(response.json()["reasons"][0])
        except Exception as error:  # not listening yet
            if isinstance(error, BenchmarkSkipped):
                raise
        await asyncio.sleep(0.01)
    raise RuntimeError(f"the server did not answer 200 within {SERVER_START_TIMEOUT_S}s")


async def _timed(client: Any, method: str, url: str, body: Any = None) -> tuple[float, bool]:
    import httpx

    started = time.perf_counter()
    try:
        response = await client.request(method, url, json=body)
        ok = response.status_code == 200
    except httpx.HTTPError:  # refused, reset, timed out: an error, not a crash
        ok = False
    return time.perf_counter() - started, ok


async def _same_connection(url: str, body: dict, count: int) -> dict[str, Any]:
    """/health and /predict alternately on ONE kept-alive connection: their p50s and ratio."""
    import httpx

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    health, predict, errors = [], [], 0
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        for _ in range(count):
            seconds, ok = await _timed(client, "GET", f"{url}/health")
            health.append(seconds)
            errors += not ok
            seconds, ok = await _timed(client, "POST", f"{url}/api/v1/predict", body)
            predict.append(seconds)
            errors += not ok
    health_stats, predict_stats = latency_stats(health), latency_stats(predict)
    return {
        "health": health_stats,
        "predict": predict_stats,
        "predict_over_health_p50": round(predict_stats["p50_ms"] / health_stats["p50_ms"], 2),
        "errors": errors,
    }


async def _throughput(url: str, body: dict, count: int, concurrency: int) -> dict[str, Any]:
    """`count` POSTs with `concurrency` in flight, each client on its own connection."""
    import httpx

    durations: list[float] = []
    errors = 0
    remaining = iter(range(count))

    async def worker() -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=30.0) as client:
            for _ in remaining:
                seconds, ok = await _timed(client, "POST", f"{url}/api/v1/predict", body)
                durations.append(seconds)
                errors += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        **latency_stats(durations),
        "requests_per_s": round(len(durations) / wall, 1),
        "errors": errors,
    }


async def _start_only(
    options: Options, url: str, process: subprocess.Popen, started: float, workers: int
) -> float:
    import httpx

    async with httpx.AsyncClient(timeout=5.0) as client:
        return await _wait_ready(client, url, process, started)


async def _measure(
    options: Options, url: str, process: subprocess.Popen, started: float, workers: int
) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=5.0) as client:
        start_s = await _wait_ready(client, url, process, started)
        version = (await client.get(f"{url}/health")).json()["model_version"]
    body = {"prices": _history(HISTORY), "horizon": 1}
    warm = await _throughput(url, body, 200 * workers, 2 * workers)
    memory = [rss_mb(pid)["rss_mb"] for pid in _worker_pids(process.pid, workers)]
    result: dict[str, Any] = {
        "workers": workers,
        "model_version": version,
        "start_to_first_health_200_s": round(start_s, 2),
        "worker_rss_mib_after_warm_up": memory,
    }
    if workers == 1:
        result["same_connection"] = await _same_connection(url, body, options.requests)
    result["throughput"] = await _throughput(url, body, options.requests * 2, options.concurrency)
    result["errors"] = (
        warm["errors"]
        + result["throughput"]["errors"]
        + (result["same_connection"]["errors"] if workers == 1 else 0)
    )
    return result


def _bench_database(path: Path, store: Any, version: str) -> str:
    """A throw-away SQLite file holding only the champion's registry row: its forecasts are
    logged there, not in the project's predictions table."""
    from dataclasses import asdict

    from stock_lstm.data_pipeline import crud
    from stock_lstm.data_pipeline.database import get_database

    url = f"sqlite:///{path}"
    with store.database.session() as session:
        record = asdict(crud.get_model_version(session, version))
    del record["status"]
    # data_version_id refers to the project's data_versions, which this file does not hold
    with get_database(url).session() as session:
        crud.record_model_version(session, **{**record, "data_version_id": None}, promote=True)
    return url


def http(options: Options, workers: int, database_url: str, measure: Any = None) -> Any:
    """`uvicorn --workers N` as `make serve` runs it, on a free loopback port, measured by
    `measure` (default: everything)."""
    measure = measure or _measure
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    command = uvicorn_command(port, workers)
    with tempfile.TemporaryDirectory(prefix="stock-lstm-bench-") as tmp:
        log_path = Path(tmp) / "server.log"
        with open(log_path, "wb") as log:
            started = time.perf_counter()
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                return asyncio.run(measure(options, url, process, started, workers))
            except RuntimeError as error:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{error}; server log:\n{tail}") from error
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def run(options: Options) -> dict[str, Any]:
    store, loaded = _champion()
    results: dict[str, Any] = {"in_process": in_process(options)}
    with tempfile.TemporaryDirectory(prefix="stock-lstm-bench-db-") as tmp:
        url = _bench_database(Path(tmp) / "bench.db", store, loaded.version)
        load = os.getloadavg()[0]  # other work on the shared CPUs slows a start-up
        starts = [http(options, 1, url, _start_only) for _ in range(START_REPEATS)]
        results["start_to_first_health_200_s"] = {
            "runs": [round(s, 2) for s in starts],
            "median": round(float(np.median(starts)), 2),
            "load_average_1min_before": round(load, 2),
        }
        results["http_1_worker"] = http(options, 1, url)
        results["http_2_workers"] = http(options, 2, url)
    results["load_generator"] = (
        f"this process: httpx.AsyncClient, {options.concurrency} requests in flight, each on "
        f"its own kept-alive connection, on the same {os.cpu_count()} CPUs as the workers"
    )
    results["targets"] = {
        name: {"target": target, "measured": measured, "met": met}
        for name, target, measured, met in _checks(results)
    }
    return results


def _checks(results: dict[str, Any]):
    one, two = results["http_1_worker"], results["http_2_workers"]
    measured = {
        "worker_rss_mib": max(
            one["worker_rss_mib_after_warm_up"] + two["worker_rss_mib_after_warm_up"]
        ),
        "start_to_first_health_200_s": results["start_to_first_health_200_s"]["median"],
        "http_predict_over_health_p50": one["same_connection"]["predict_over_health_p50"],
        "http_errors": one["errors"] + two["errors"],
    }
    for name, target in TARGETS.items():
        value = measured[name]
        yield name, target, value, value <= target
