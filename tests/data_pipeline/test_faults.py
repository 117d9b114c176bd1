"""A save killed midway (SIGKILL) leaves the previous version intact and no partial version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from sqlalchemy import func, select

from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.orm_models import DataVersion, RawPrice
from tests.helpers.bars import bars
from tests.helpers.database import crud_on

CHILD = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    from stock_lstm.data_pipeline import crud

    calls = {"n": 0}
    original = crud.Session.execute

    def slow_execute(self, statement, *args, **kwargs):
        result = original(self, statement, *args, **kwargs)
        if getattr(statement, "is_insert", False) and statement.table.name == "raw_prices":
            calls["n"] += 1
            if calls["n"] == 3:  # some chunks are written: announce it, then wait to be killed
                print("inserted", flush=True)
                time.sleep(60)
        return result

    crud.Session.execute = slow_execute
    rows = 40_000
    dates = pd.bdate_range("1900-01-01", periods=rows)
    frame = pd.DataFrame({"ticker": "BIG", "date": dates, "open": 1.0, "high": 2.0, "low": 0.5,
                          "close": 1.5, "adj_close": 1.5, "volume": 10})
    from stock_lstm.data_pipeline.database import get_database
    with get_database(sys.argv[1]).session() as session:
        crud.save_stage_frame(session, frame, "raw", source="big")
    print("committed", flush=True)
    """
)


def _counts(url: str) -> tuple[int, int]:
    with get_database(url).session() as session:
        return (
            session.scalar(select(func.count()).select_from(DataVersion)),
            session.scalar(select(func.count()).select_from(RawPrice)),
        )


def test_sigkill_during_a_large_save_leaves_the_previous_version(database_url):
    previous = crud_on(database_url).save_stage_frame(bars(days=7), "raw", source="csv").version
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout.readline().strip() == "inserted"  # killed in the middle of the rows
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    assert _counts(database_url) == (1, 7)
    latest = crud_on(database_url).latest_version("raw")
    assert latest.id == previous.id
    assert len(crud_on(database_url).load_stage_frame("raw")) == 7
    # the database is usable afterwards: the next save lands whole
    assert crud_on(database_url).save_stage_frame(bars(days=9), "raw", source="csv").created
    assert _counts(database_url) == (2, 9)  # the two new days only: versions store changes
