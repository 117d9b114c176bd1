"""Two pipeline runs writing one SQLite database: the second waits, naming the run it waits for,
or stops with one line; never SQLite's "database is locked" deep inside a save."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from stock_lstm.hooks.run_lock import RunLock, RunLocked, sqlite_file
from tests.conftest import kedro_env

# Another run in the middle of a long save: it holds the run lock and SQLite's write lock
# (BEGIN IMMEDIATE) until the test writes a line to its stdin.
OTHER_RUN = textwrap.dedent(
    """
    import sqlite3, sys
    from pathlib import Path
    from stock_lstm.hooks.run_lock import RunLock

    database = Path(sys.argv[1])
    lock = RunLock(database)
    lock.acquire("training", 0)
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("CREATE TABLE IF NOT EXISTS held (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO held VALUES (1)")
    print("holding", flush=True)
    sys.stdin.readline()
    writer.execute("ROLLBACK")
    lock.release()
    """
)


def test_a_second_kedro_run_stops_with_one_line_naming_the_run_it_waited_for(
    project_copy: Path,
) -> None:
    root = project_copy
    database = root / "data" / "test" / "stock_lstm.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    env = kedro_env(root, f"sqlite:///{database}", RUN_LOCK_WAIT_SECONDS="1")
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_RUN, str(database)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "holding"  # the barrier: it holds both locks
        run = subprocess.run(
            [sys.executable, "-m", "kedro", "run", "--pipelines", "ingestion"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        other.communicate("release\n", timeout=60)
    assert run.returncode == 1, run.stdout + run.stderr
    output = run.stdout + run.stderr
    assert "Traceback" not in output and "database is locked" not in output
    [error] = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert error.startswith(f"Error: another run is still writing {database} (pid {other.pid}, ")
    assert "pipeline training, started " in error and "RUN_LOCK_WAIT_SECONDS" in error
    assert "waiting up to 1 s" in " ".join(output.split())  # said while it waited


def test_a_waiting_run_says_whom_it_waits_for_and_goes_on_once_it_is_done(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "stock_lstm.db"
    first, second = RunLock(database), RunLock(database)
    first.acquire("training", 0)
    waiting = threading.Event()

    class Said(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "waiting up to" in record.getMessage():
                waiting.set()

    said = Said()
    logging.getLogger("stock_lstm.hooks.run_lock").addHandler(said)
    outcome: list[BaseException | None] = []
    try:
        thread = threading.Thread(
            target=lambda: outcome.append(_try(second.acquire, "ingestion", 60))
        )
        thread.start()
        assert waiting.wait(30)  # the barrier: the second run is waiting, and said so
        first.release()
        thread.join(30)
    finally:
        logging.getLogger("stock_lstm.hooks.run_lock").removeHandler(said)
    assert outcome == [None]
    [message] = [r.getMessage() for r in caplog.records if "waiting up to" in r.getMessage()]
    assert f"pid {os.getpid()}, pipeline training, started " in message
    assert f"another run is writing {database}" in message
    with pytest.raises(RunLocked, match=f"pid {os.getpid()}, pipeline ingestion"):
        RunLock(database).acquire("evaluation", 0.3)  # the second run holds it now
    second.release()
    RunLock(database).acquire("evaluation", 0)  # released: free at once


def _try(acquire, *args) -> BaseException | None:
    try:
        acquire(*args)
    except BaseException as error:  # the test asserts there was none
        return error
    return None


def test_only_sqlite_files_are_locked() -> None:
    assert sqlite_file("sqlite:////srv/data/stock_lstm.db") == Path("/srv/data/stock_lstm.db")
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("postgresql+psycopg://postgres@127.0.0.1:5432/test") is None
