"""`python -m benchmarks [section ...]` (make bench): run, print, write benchmarks/results.json."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

from benchmarks import (  # noqa: E402
    backtest,
    daily,
    monitoring,
    pipeline,
    serving,
    storage,
    versioning,
)
from benchmarks.common import RESULTS_PATH, BenchmarkSkipped, Options, machine  # noqa: E402

SECTIONS = {
    "pipeline": pipeline.run,
    "storage": storage.run,
    "versioning": versioning.run,
    "serving": serving.run,
    "monitoring": monitoring.run,
    "daily": daily.run,
    "backtest": backtest.run,
}


def summary(results: dict) -> str:
    """One line per measured figure: `section.path.to.figure  value`."""
    lines = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            lines.append(f"{prefix:<58} {value}")

    for name in SECTIONS:
        if name in results:
            walk(name, results[name])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--requests", type=int, default=1000, help="HTTP requests per phase")
    parser.add_argument("--concurrency", type=int, default=4, help="HTTP requests in flight")
    parser.add_argument("--calls", type=int, default=1000, help="in-process calls per case")
    args = parser.parse_args(argv)
    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    options = Options(requests=args.requests, concurrency=args.concurrency, calls=args.calls)
    # Sections not run keep their last figures: `python -m benchmarks serving` updates one.
    previous = json.loads(RESULTS_PATH.read_text()) if RESULTS_PATH.exists() else {}
    results: dict = {
        **previous,
        "created_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
    }
    failed = False
    for name in args.sections or list(SECTIONS):
        started = time.perf_counter()
        try:
            results[name] = SECTIONS[name](options)
        except BenchmarkSkipped as reason:
            print(f"{name}: skipped: {reason}", file=sys.stderr)
            results[name] = {"skipped": str(reason)}
            failed = True
            continue
        results[name]["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS_PATH.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(summary(results))
    print(f"full results: {RESULTS_PATH}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
