"""A clean `kedro run` prints what a user needs and nothing they must learn to ignore: no
mlflow type-hint warning, no "Could not extract type hints" lines from Kedro's parameter
validation, no TensorFlow E0000 lines, and a piped console is not wrapped at 80 columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import TrainedProject, copy_trained_project, kedro_env
from tests.helpers.kedro_cli import kedro

NOISE = (
    "Add type hints to the `predict` method",
    "Could not extract type hints",
    "use_unbounded_threadpool",
    "E0000",
    "All log messages before absl::InitializeLog()",
)


@pytest.mark.slow
def test_a_tiny_training_run_prints_no_known_noise(
    trained_project: TrainedProject, tmp_path: Path
) -> None:
    project = copy_trained_project(trained_project, tmp_path / "project")
    env = kedro_env(project.root, project.database_url)
    for name in ("COLUMNS", "PYTHONWARNINGS", "TF_CPP_MIN_LOG_LEVEL"):
        env.pop(name, None)  # a user's shell: none of the Makefile's settings
    # force: the copy's model was trained from these very inputs (pipelines/train_once.py)
    args = "run --env test --pipelines training --params training.force=true".split()
    output = kedro(project.root, env, *args)
    assert [line for line in output.splitlines() if any(n in line for n in NOISE)] == []
    # piped, each log line is whole: the pipeline's completion on one line
    assert any(
        "Pipeline execution completed successfully" in line for line in output.splitlines()
    ), output


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
