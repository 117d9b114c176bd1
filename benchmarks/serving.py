"""Serving speed: the in-process forecast, the same through per-call `model.predict`, and
HTTP POST /api/v1/predict against one real uvicorn worker on loopback; plus its memory."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import BenchmarkSkipped, Options, latency_stats, rss_mb, time_calls

HISTORY = 61  # closes in the HTTP body: the "61 prices"
SERVER_START_TIMEOUT_S = 180
TARGETS = {
    "in_process_h1_p50_ms": 2.0,
    "in_process_h30_p50_ms": 10.0,
    "http_p50_ms": 8.0,
    "http_requests_per_s": 150.0,
    "http_errors": 0,
}


def _loaded_model() -> Any:
    from stock_lstm.api.v1.services.model_store import ModelUnavailable, load_configured
    from stock_lstm.common.settings import get_settings

    try:
        return load_configured(get_settings())
    except ModelUnavailable as error:
        raise BenchmarkSkipped(str(error)) from error


def _history(length: int) -> list[float]:
    """The newest stored closes of the first ticker, else a reproducible random walk."""
    try:
        from stock_lstm.data_pipeline import crud

        summaries = crud.ticker_summaries("clean")
        if summaries:
            frame = crud.load_ticker_prices(summaries[0].ticker, limit=length)
            if len(frame) == length:
                return [float(v) for v in frame["close"]]
    except Exception:  # no database yet: the random walk is as good for timing
        pass
    steps = np.random.default_rng(0).normal(0.0003, 0.012, length)
    return [float(v) for v in 100.0 * np.exp(np.cumsum(steps))]


def in_process(options: Options) -> dict[str, Any]:
    loaded = _loaded_model()
    forecaster = loaded.forecaster
    closes = np.asarray(_history(max(HISTORY, forecaster.min_history)))
    results: dict[str, Any] = {"model_version": loaded.version}
    for horizon in (1, forecaster.max_horizon):
        durations = time_calls(lambda h=horizon: forecaster.forecast(closes, h), options.calls)
        results[f"forecast_h{horizon}"] = latency_stats(durations)
    model = forecaster.model
    batch = forecaster.prepare(closes)
    durations = time_calls(
        lambda: model.predict(forecaster.prepare(closes), verbose=0),
        max(options.calls // 5, 50),
        warm_up=5,
    )
    assert batch.shape[0] == 1
    results["model_predict_per_call"] = latency_stats(durations)
    results["model_predict_over_forecast_p50"] = round(
        results["model_predict_per_call"]["p50_ms"] / results["forecast_h1"]["p50_ms"], 1
    )
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _wait_ready(client: Any, url: str, process: subprocess.Popen) -> dict[str, Any]:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            response = await client.get(f"{url}/health")
            return response.json()
        except Exception:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {SERVER_START_TIMEOUT_S}s")


async def _run_requests(
    client: Any, url: str, body: dict[str, Any], count: int, concurrency: int
) -> tuple[list[float], float, int]:
    """`count` POSTs with at most `concurrency` in flight: durations, wall time, errors."""
    import httpx

    durations: list[float] = []
    errors = 0
    remaining = iter(range(count))

    async def worker() -> None:
        nonlocal errors
        for _ in remaining:
            started = time.perf_counter()
            try:
                response = await client.post(f"{url}/api/v1/predict", json=body)
                ok = response.status_code == 200
            except httpx.HTTPError:  # refused, reset, timed out: an error, not a crash
                ok = False
            durations.append(time.perf_counter() - started)
            errors += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return durations, time.perf_counter() - started, errors


async def _http(options: Options, url: str, pid: int, process: subprocess.Popen) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=options.concurrency, max_keepalive_connections=16)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        health = await _wait_ready(client, url, process)
        if not health.get("model_version"):
            raise BenchmarkSkipped(
                "; ".join(health.get("reasons", [])) or "no trained model: run `make pipeline`"
            )
        body = {"prices": _history(HISTORY), "horizon": 1}
        _, _, warm_errors = await _run_requests(client, url, body, 100, 1)
        memory = rss_mb(pid)
        sequential, _, seq_errors = await _run_requests(client, url, body, options.requests, 1)
        concurrent, wall, conc_errors = await _run_requests(
            client, url, body, options.requests * 2, options.concurrency
        )
    after = rss_mb(pid)
    return {
        "model_version": health["model_version"],
        "body": f"{HISTORY} prices, horizon 1",
        "sequential": latency_stats(sequential),
        "concurrent": {
            "concurrency": options.concurrency,
            **latency_stats(concurrent),
            "requests_per_s": round(len(concurrent) / wall, 1),
        },
        "errors": warm_errors + seq_errors + conc_errors,
        "server_rss_mb_after_warm_up": memory["rss_mb"],
        "server_rss_mb_after_run": after["rss_mb"],
        "server_peak_rss_mb": after["peak_rss_mb"],
    }


def _bench_database(path: Path) -> str:
    """A throw-away SQLite file holding only the served model's model_versions row (the API
    serves a model only once its artifacts match the sha256 recorded there)."""
    from dataclasses import asdict

    from stock_lstm.common.settings import get_settings
    from stock_lstm.data_pipeline import crud

    url = f"sqlite:///{path}"
    record = crud.get_model_version(get_settings().model_version)
    if record is None:
        raise BenchmarkSkipped("no evaluated model version: run `make pipeline`")
    # data_version_id refers to the project's data_versions, which this file does not hold
    crud.record_model_version(**{**asdict(record), "data_version_id": None}, url=url)
    return url


def http(options: Options) -> dict[str, Any]:
    """One uvicorn worker as `make serve` runs it, on a free loopback port. Its forecasts are
    logged to a throw-away SQLite file, not to the project's predictions table."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="stock-lstm-bench-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": _bench_database(Path(tmp) / "bench.db"),
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "stock_lstm.api.v1.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        with open(Path(tmp) / "server.log", "wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                return asyncio.run(_http(options, url, process.pid, process))
            except RuntimeError as error:
                tail = (Path(tmp) / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{error}; server log:\n{tail}") from error
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def run(options: Options) -> dict[str, Any]:
    results = {"in_process": in_process(options), "http": http(options)}
    results["targets"] = {
        name: {"target": target, "measured": measured, "met": met}
        for name, target, measured, met in _checks(results)
    }
    return results


def _checks(results: dict[str, Any]):
    ip, web = results["in_process"], results["http"]
    h30 = next(k for k in ip if k.startswith("forecast_h") and k != "forecast_h1")
    measured = {
        "in_process_h1_p50_ms": ip["forecast_h1"]["p50_ms"],
        "in_process_h30_p50_ms": ip[h30]["p50_ms"],
        "http_p50_ms": web["sequential"]["p50_ms"],
        "http_requests_per_s": web["concurrent"]["requests_per_s"],
        "http_errors": web["errors"],
    }
    for name, target in TARGETS.items():
        value = measured[name]
        met = value >= target if name.endswith("per_s") else value <= target
        yield name, target, value, met
