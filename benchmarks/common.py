"""Helpers shared by benchmark sections: timing statistics, project copies, servers on bound
sockets, and the provenance (date, machine, commit) each section's figures are stamped with."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


class BenchmarkFailed(RuntimeError):
    """A section's run went wrong (a command failed, a check did not hold); the message says
    what. `python -m benchmarks` records the section as "failed" with it (as any exception)."""


# The older name, still imported by some sections: a failure all the same, never a skip.
BenchmarkSkipped = BenchmarkFailed


@dataclass(frozen=True)
class Options:
    requests: int  # HTTP requests per phase
    concurrency: tuple[int, ...]  # HTTP requests in flight: one throughput phase each
    calls: int  # in-process calls per case


@contextmanager
def postgres_schema(base: str, prefix: str = "bench_") -> Iterator[str]:
    """A URL of `base` whose tables live in a new schema, dropped (and its engines disposed)
    afterwards: a benchmark or test leaves the shared test database as it found it."""
    from sqlalchemy import create_engine, text

    from stock_lstm.data_pipeline.database import dispose_engines

    schema = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def on_both_databases(measure: Callable[[str], dict[str, Any]], name: str) -> dict[str, Any]:
    """`measure(url)` on a temporary SQLite file `<name>.db`, then on a private schema of
    TEST_DATABASE_URL's PostgreSQL (skipped, saying so, when it is unset)."""
    from stock_lstm.data_pipeline.database import dispose_engines

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="stock-lstm-bench-") as tmp:
        try:
            results["sqlite"] = measure(f"sqlite:///{Path(tmp) / f'{name}.db'}")
        finally:
            dispose_engines()
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        with postgres_schema(base) as url:
            results["postgresql"] = measure(url)
    else:
        results["postgresql"] = {"skipped": "TEST_DATABASE_URL unset"}
    return results


def latency_stats(seconds: list[float]) -> dict[str, float]:
    """p50/p90/p99/mean/min in milliseconds of a list of durations in seconds."""
    ms = np.asarray(seconds) * 1000
    return {
        "n": int(ms.size),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p90_ms": round(float(np.percentile(ms, 90)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(statistics.fmean(ms)), 3),
        "min_ms": round(float(ms.min()), 3),
    }


def time_calls(fn: Callable[[], Any], calls: int, warm_up: int = 20) -> list[float]:
    for _ in range(warm_up):
        fn()
    durations = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - started)
    return durations


def machine() -> dict[str, Any]:
    """The machine a figure was measured on: CPU model and count, OS, Python, TensorFlow's
    version (read from its metadata: importing it would cost seconds and memory)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tensorflow: str | None = version("tensorflow")
    except PackageNotFoundError:
        tensorflow = None
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tensorflow,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The commit the code was at, and whether tracked files differed from it (`dirty`):
    {"sha": None, ...} outside a git checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if sha else None
    return {
        "sha": sha.strip() if sha else None,
        "dirty": bool(status.strip()) if status is not None else None,
    }


def provenance() -> dict[str, Any]:
    """The stamp of one section's run: when, on what machine, at which commit."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": git_commit(),
    }


def project_copy(root: Path) -> Path:
    """A temporary project at `root`: pyproject.toml, conf (without local secrets) and the
    bundled raw snapshot; src is a symlink to this checkout's."""
    root.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root)
    (root / "src").mkdir()
    (root / "src" / "stock_lstm").symlink_to(PROJECT_ROOT / "src" / "stock_lstm")
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    shutil.copytree(PROJECT_ROOT / "data" / "01_raw", root / "data" / "01_raw")
    return root


def bound_socket() -> socket.socket:
    """A listening loopback socket on a port the kernel picked, for a server to be handed
    (`--fd`): no port is released and bound again, so no other process can take it between.

    With TCP_NODELAY, which the connections it accepts inherit: uvicorn wraps an `--fd` socket
    as AF_UNIX, so its event loop does not set it on them as it does with `--host/--port`, and
    Nagle's algorithm held a response's second write for the client's delayed ACK (~40 ms)."""
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


def stop_process(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """End a server started for a measurement (or a test: tests/helpers/server.py): SIGTERM,
    its graceful shutdown awaited, then SIGKILL if it does not end in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)


def rss_mb(pid: int) -> dict[str, float]:
    """Resident memory (VmRSS) and its peak (VmHWM) of a process, in MiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)  # kB -> MiB
    return {"rss_mb": fields.get("VmRSS", float("nan")), "peak_rss_mb": fields.get("VmHWM", 0.0)}
