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


# What a clean `kedro run` never prints (checked on the one `kedro run` subprocess of the tests,
# a training run typed in a user's shell: tests/test_environments.py): the mlflow type-hint
# warning, Kedro's parameter-validation lines, TensorFlow's E0000 lines.
NOISE = (
    "Add type hints to the `predict` method",
    "Could not extract type hints",
    "use_unbounded_threadpool",
    "E0000",
    "All log messages before absl::InitializeLog()",
)


def as_in_a_users_shell(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without the Makefile's console settings, as a user's shell has none of them."""
    return {
        name: value
        for name, value in env.items()
        if name not in ("COLUMNS", "PYTHONWARNINGS", "TF_CPP_MIN_LOG_LEVEL")
    }


def noise(output: str) -> list[str]:
    """The lines of a kedro command's console that a user must learn to ignore."""
    return [line for line in output.splitlines() if any(n in line for n in NOISE)]
