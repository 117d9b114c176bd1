"""The API app over a trained project, and the key its registry endpoints are given."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from stock_lstm.api.app import create_app
from tests.api.conftest import settings_for
from tests.conftest import TrainedProject, kedro_env

KEY = "test-key-0123456789abcdef"


@contextmanager
def app_client(project: TrainedProject, **overrides) -> Iterator[TestClient]:
    settings = settings_for(project.root, project.database_url, **overrides)
    with TestClient(create_app(settings)) as client:
        yield client


def run_in_fresh_worker(project: TrainedProject, code: str) -> str:
    """Run `code` in a new interpreter with the project's environment (this one has modules
    loaded by other tests) and return what it printed; it must exit 0."""
    env = kedro_env(project.root, project.database_url)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
