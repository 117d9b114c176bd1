"""A `kedro` command run as a user runs it: a subprocess in a project copy."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def kedro(root: Path, env: Mapping[str, str], *args: str, timeout: int = 900) -> str:
    """`python -m kedro ARGS` in `root` with the environment `env` (tests.conftest.kedro_env):
    its console (stdout, then stderr), once it exited 0."""
    completed = subprocess.run(
        [sys.executable, "-m", "kedro", *args],
        cwd=root,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output
