"""`python -m benchmarks [section ...]` (make bench): run, print, write benchmarks/results.json.

Each section's entry in results.json carries its own `provenance` (date, machine, commit) and
`status`: "ok", or "failed" with the error. Sections not run keep their entry (and its stamp)
from the file's previous run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from types import ModuleType
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

from benchmarks import (  # noqa: E402
    backtest,
    daily,
    monitoring,
    pipeline,
    serving,
    storage,
    tuning,
    versioning,
)
from benchmarks.common import RESULTS_PATH, Options, provenance  # noqa: E402

# One line per section: a module with `run(options) -> dict` of figures and, optionally,
# `table(figures) -> str`, printed instead of the figures' one-line-per-value listing.
SECTIONS: dict[str, ModuleType] = {
    "pipeline": pipeline,
    "storage": storage,
    "versioning": versioning,
    "serving": serving,
    "monitoring": monitoring,
    "daily": daily,
    "backtest": backtest,
    "tuning": tuning,
}


def run_section(name: str, options: Options) -> dict[str, Any]:
    """One section's entry: its figures with status "ok", or status "failed" and the error
    (its traceback's tail too), stamped with the run's provenance either way."""
    stamp = provenance()
    started = time.perf_counter()
    try:
        figures = SECTIONS[name].run(options)
    except Exception as error:
        print(f"{name}: FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        return {
            "status": "failed",
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc()[-4000:],
            "seconds": round(time.perf_counter() - started, 1),
            "provenance": stamp,
        }
    return {
        "status": "ok",
        **figures,
        "seconds": round(time.perf_counter() - started, 1),
        "provenance": stamp,
    }


def carried_over(previous: dict[str, Any]) -> dict[str, Any]:
    """The previous file's section entries, each with its own stamp. A file written before
    sections were stamped had one `created_at` and `machine` for all: each of its sections gets
    those, and `commit` None (not recorded); its `{"skipped": why}` entries were failed runs."""
    legacy = {
        "date": previous.get("created_at"),
        "machine": previous.get("machine"),
        "commit": None,
    }
    sections = {}
    for name, entry in previous.items():
        if not isinstance(entry, dict) or name == "machine":
            continue
        entry = dict(entry)
        entry.setdefault("provenance", legacy)
        if "status" not in entry:  # unstamped: its failures were stored as {"skipped": why}
            skipped = entry.pop("skipped", None)
            entry = (
                {"status": "failed", "error": skipped, **entry}
                if skipped is not None
                else {"status": "ok", **entry}
            )
        sections[name] = entry
    return sections


def summary(results: dict[str, Any]) -> str:
    """Per section a header (status, date, commit, CPU), then its table or one line per
    measured figure: `section.path.to.figure  value`."""
    lines: list[str] = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            lines.append(f"{prefix:<58} {value}")

    for name, entry in results.items():
        if not isinstance(entry, dict):
            continue
        stamp = entry.get("provenance") or {}
        commit = stamp.get("commit") or {}
        sha = (commit.get("sha") or "unknown")[:10] + (" (dirty)" if commit.get("dirty") else "")
        cpu = (stamp.get("machine") or {}).get("cpu_model", "?")
        lines.append(
            f"== {name}: {entry.get('status', 'ok')}, {stamp.get('date')}, commit {sha}, {cpu}"
        )
        if entry.get("status") == "failed":
            lines.append(f"   {entry['error']}")
            continue
        figures = {k: v for k, v in entry.items() if k not in ("provenance", "status")}
        table = getattr(SECTIONS.get(name), "table", None)
        if table is not None:
            lines.append(table(figures))
        else:
            walk(name, figures)
    return "\n".join(lines)


def _in_flight(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of requests (1 or more)")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--requests", type=int, default=1000, help="HTTP requests per phase")
    parser.add_argument(
        "--concurrency",
        type=_in_flight,
        nargs="+",
        default=list(serving.CLIENTS),
        metavar="N",
        help="HTTP requests in flight, one throughput phase per N (serving; default: "
        f"{' '.join(map(str, serving.CLIENTS))})",
    )
    parser.add_argument("--calls", type=int, default=1000, help="in-process calls per case")
    args = parser.parse_args(argv)
    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    options = Options(requests=args.requests, concurrency=tuple(args.concurrency), calls=args.calls)
    previous = json.loads(RESULTS_PATH.read_text()) if RESULTS_PATH.exists() else {}
    results = carried_over(previous)
    for name in args.sections or list(SECTIONS):
        results[name] = run_section(name, options)
        # written after each section: a later crash or interrupt keeps the finished ones
        RESULTS_PATH.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(summary(results))
    print(f"full results: {RESULTS_PATH}")
    ran = args.sections or list(SECTIONS)
    return 1 if any(results[name]["status"] == "failed" for name in ran) else 0


if __name__ == "__main__":
    sys.exit(main())
