"""Runtime log files (docs/operations.md "Logs"): a `kedro run` and the API write JSON lines into LOG_DIR,
files rotate at the configured size, and a bad setting stops start-up with its name."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from stock_lstm.common.errors import SettingsError
from stock_lstm.common.logging import (
    RotatingJsonFileHandler,
    configure_logger,
    log_file_settings,
)
from stock_lstm.common.settings import project_root
from tests.conftest import PROJECT_ROOT, kedro_env

LOG_ENV = {
    "KEDRO_LOGGING_CONFIG": str(PROJECT_ROOT / "conf" / "json_logging.yml"),
    "KEDRO_LOGGING_MODULE_ALLOWLIST": "stock_lstm.common.logging",
}


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_FILE_MAX_BYTES", "abc"),
        ("LOG_FILE_MAX_BYTES", "0"),
        ("LOG_FILE_MAX_BYTES", "1.5"),
        ("LOG_FILE_BACKUPS", "-1"),
        ("LOG_FILE_BACKUPS", "many"),
    ],
)
def test_a_bad_setting_stops_with_a_message_naming_it(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}: expected .*, got '{value}'$"):
        log_file_settings()
    with pytest.raises(SettingsError, match=name):
        RotatingJsonFileHandler("never.log")


def test_defaults_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOG_DIR", "LOG_FILE_MAX_BYTES", "LOG_FILE_BACKUPS"):
        monkeypatch.delenv(name, raising=False)
    defaults = log_file_settings()
    assert defaults.max_bytes == 10 * 1024 * 1024 and defaults.backups == 5
    assert defaults.directory == project_root() / "logs"
    monkeypatch.setenv("LOG_DIR", "/tmp/x")
    monkeypatch.setenv("LOG_FILE_MAX_BYTES", "2048")
    monkeypatch.setenv("LOG_FILE_BACKUPS", "3")
    chosen = log_file_settings()
    assert (chosen.directory, chosen.max_bytes, chosen.backups) == (Path("/tmp/x"), 2048, 3)


def _before_last_line(path: Path) -> int:
    """A file's size without its last line: a file is rotated once it reaches the limit, so only
    the line that took it there may cross it."""
    content = path.read_bytes()
    return len(content) - len(content.rstrip(b"\n").rsplit(b"\n", 1)[-1]) - 1


def test_a_file_rotates_at_the_configured_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("LOG_FILE_MAX_BYTES", "400")
    monkeypatch.setenv("LOG_FILE_BACKUPS", "2")
    handler = RotatingJsonFileHandler("rotating.log")
    logger = logging.getLogger("tests.log_files.rotation")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    try:
        for number in range(60):
            logger.info("line %d", number, extra={"number": number})
    finally:
        logger.removeHandler(handler)
        handler.close()

    files = sorted(p.name for p in (tmp_path / "logs").glob("rotating.log*"))
    assert files == ["rotating.log", "rotating.log.1", "rotating.log.2"]
    for name in files:
        path = tmp_path / "logs" / name
        assert 0 < path.stat().st_size and _before_last_line(path) < 400
        assert all(line["logger"] == "tests.log_files.rotation" for line in json_lines(path))
    newest = json_lines(tmp_path / "logs" / "rotating.log")
    assert newest[-1]["message"] == "line 59" and newest[-1]["number"] == 59
    assert set(newest[-1]) == {"time", "level", "logger", "message", "number"}


_WRITER = """
import logging, sys
from stock_lstm.common.logging import RotatingJsonFileHandler
logger = logging.getLogger("tests.log_files.writer")
logger.propagate, logger.level = False, logging.INFO
logger.addHandler(RotatingJsonFileHandler("shared.log"))
for number in range(int(sys.argv[2])):
    logger.info("line", extra={"writer": sys.argv[1], "number": number})
"""


def test_processes_sharing_a_file_lose_no_line_across_rotations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like the workers of `uvicorn --workers 2`: two processes append to one file, rotating it
    many times; every line of each lands whole, exactly once."""
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("LOG_FILE_MAX_BYTES", "2000")
    monkeypatch.setenv("LOG_FILE_BACKUPS", "200")
    lines = 300
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, name, str(lines)]) for name in "ab"]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]

    files = list((tmp_path / "logs").glob("shared.log*"))
    assert len(files) > 10  # it did rotate, many times
    written = [line for path in files for line in json_lines(path)]
    for name in "ab":
        numbers = sorted(line["number"] for line in written if line["writer"] == name)
        assert numbers == list(range(lines))
    assert all(_before_last_line(path) < 2000 for path in files)


def test_configuring_again_keeps_other_handlers_and_adds_none_twice() -> None:
    """The API configures its logger on every create_app and after Kedro's bootstrap: never a
    second copy of a handler, never the loss of one that other code (a test) attached."""
    logger = logging.getLogger("stock_lstm.api")
    mine = logging.Handler()
    logger.addHandler(mine)
    try:
        configure_logger("stock_lstm.api", "INFO")
        before = list(logger.handlers)
        logger.removeHandler(next(h for h in logger.handlers if h.name == "api_file"))
        logger.propagate = True  # what a dictConfig of `stock_lstm` does to its children
        configure_logger("stock_lstm.api", "INFO")
        configure_logger("stock_lstm.api", "INFO")
        assert sorted(map(id, logger.handlers)) == sorted(map(id, before))
        assert mine in logger.handlers and logger.propagate is False
        # (pytest adds its own, unnamed, capture handlers to non-propagating loggers)
        assert sorted(h.name for h in logger.handlers if h.name) == ["api_file", "json_console"]
    finally:
        logger.removeHandler(mine)


def test_without_the_projects_conf_the_json_lines_go_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCK_LSTM_PROJECT_ROOT", str(tmp_path))  # no conf/ there
    logger = configure_logger("tests.log_files.no_conf", "INFO")
    assert [h.name for h in logger.handlers] == ["json_console"] and not logger.propagate


def test_a_kedro_run_writes_json_lines_beside_the_console(
    project_copy: Path, sqlite_url: str, tmp_path: Path
) -> None:
    logs = tmp_path / "run-logs"
    completed = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--env", "test", "--pipelines", "ingestion"],
        cwd=project_copy,
        env=kedro_env(project_copy, sqlite_url, LOG_DIR=str(logs), **LOG_ENV),
        capture_output=True,
        text=True,
        timeout=600,
    )
    console = completed.stdout + completed.stderr
    assert completed.returncode == 0, console
    assert "Pipeline execution completed" in console  # Kedro's console, as before

    assert sorted(p.name for p in logs.glob("*.log*")) == ["pipelines.log"]
    lines = json_lines(logs / "pipelines.log")
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    loggers = {line["logger"] for line in lines}
    assert any(name.startswith("kedro.") for name in loggers), loggers
    assert any(name.startswith("stock_lstm.") for name in loggers), loggers
    assert any("Pipeline execution completed" in line["message"] for line in lines)
