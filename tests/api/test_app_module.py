"""Importing stock_lstm.api.app (for create_app: the tests, the benchmarks, tools) has no side
effects: it reads no settings, configures no logging and starts no thread. `app`, what
`uvicorn stock_lstm.api.app:app` serves, is made on its first access. (Made at import, its JSON
log handler was bound to whatever stderr was then: under pytest, the real one, so access lines
written after a test ended reached the test run's console.)

Each case runs in a fresh interpreter: this one imported the module long ago."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CODE = """
import json, logging, threading

def state(module):
    return {
        "built": "app" in vars(module),
        "threads": sorted(t.name for t in threading.enumerate()),
        "handlers": sorted(h.name for h in logging.getLogger("stock_lstm.api").handlers),
    }

import stock_lstm.api.app as module
imported = state(module)
print(json.dumps(imported), flush=True)
app = module.app
print(json.dumps({**state(module), "type": type(app).__name__, "same": module.app is app}))
"""


def _run(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CODE],
        env={**os.environ, "LOG_DIR": str(tmp_path / "logs"), **environment},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_app_is_made_on_first_access_not_at_import(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr
    imported, accessed = (json.loads(line) for line in result.stdout.splitlines())

    assert imported == {"built": False, "threads": ["MainThread"], "handlers": []}
    assert accessed["built"] and accessed["type"] == "FastAPI" and accessed["same"]
    assert "access-log" in accessed["threads"]
    assert accessed["handlers"] == ["api_file", "json_console"]


def test_a_bad_setting_stops_uvicorns_access_not_the_import(tmp_path: Path) -> None:
    result = _run(tmp_path, MAX_BODY_BYTES="abc")

    assert result.returncode != 0
    assert json.loads(result.stdout)["built"] is False  # imported fine
    assert result.stderr.strip() == (
        "Error: MAX_BODY_BYTES: expected a positive whole number of bytes, got 'abc'"
    )
