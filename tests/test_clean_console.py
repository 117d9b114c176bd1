"""A clean `kedro run` prints what a user needs and nothing they must learn to ignore: a piped
console is not wrapped at 80 columns. (No mlflow type-hint warning, no "Could not extract type
hints" lines, no TensorFlow E0000 lines: checked on the training run of
tests/test_environments.py, the one `kedro run` of the tests that trains, typed in a user's shell.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import kedro_env
from tests.helpers.kedro_cli import kedro

# A record's first line, as the piped console prints it (PIPED_CONSOLE_FORMAT).
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


@pytest.mark.slow
def test_a_piped_kedro_run_wraps_no_line(project_copy: Path, sqlite_url: str) -> None:
    """From Kedro's first line ("Using ... as logging configuration", printed before any
    project code runs) to its last, every log record is one whole line."""
    env = kedro_env(project_copy, sqlite_url)
    env.pop("COLUMNS")  # a user's shell piped to a file: rich would wrap at 80 columns
    output = kedro(project_copy, env, "run", "--env", "test", "--pipelines", "ingestion")
    lines = [line for line in output.splitlines() if line.strip()]
    assert [line for line in lines if not RECORD.match(line)] == [], output
    assert "as logging configuration" in lines[0], output
    assert any("Kedro project" in line for line in lines), output
    assert any("Pipeline execution completed successfully" in line for line in lines), output
