"""The prediction log never blocks a request and never loses a row silently."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, date, datetime

from sqlalchemy.exc import OperationalError

from stock_lstm.api.v1.services.prediction_log import PredictionLog, _decode
from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import get_database
from tests.helpers.database import crud_on


def _row(i: int) -> dict:
    return {
        "request_id": f"r{i}",
        "ticker": None,
        "model_version": "v1",
        "horizon": 1,
        "values": [{"step": 1, "close": 1.0}],
        "latency_ms": 1.0,
    }


def test_rows_reach_the_database_in_batches(database_url) -> None:
    log = PredictionLog(get_database(database_url), batch_size=7, flush_interval_s=0.01)
    log.start()
    for i in range(50):
        log.submit(_row(i))
    log.close()
    assert log.written == 50 and log.failed == 0
    assert crud_on(database_url).count_predictions() == 50


def test_close_flushes_what_is_queued() -> None:
    written: list[dict] = []
    log = PredictionLog(None, writer=lambda rows: written.extend(rows) or len(rows))
    for i in range(5):
        log.submit(_row(i))  # not started yet: queued only
    log.close()
    assert [r["request_id"] for r in written] == [f"r{i}" for i in range(5)]


def test_a_failing_database_is_retried_then_counted_and_logged(caplog) -> None:
    attempts = []

    def broken(rows):
        attempts.append(len(rows))
        raise RuntimeError("database is down")

    failed: list[int] = []
    log = PredictionLog(None, writer=broken, retry_delays_s=(0.0, 0.0), on_failed=failed.append)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("stock_lstm.api.v1.services.prediction_log")
    logger.addHandler(handler)
    try:
        log.start()
        log.submit(_row(1))
        assert log.flush(timeout_s=10)
    finally:
        log.close()
        logger.removeHandler(handler)
    assert attempts == [1, 1, 1]  # first try + two retries
    assert log.failed == 1 and failed == [1] and log.written == 0
    assert any("database is down" in r.getMessage() for r in records)


def test_a_full_queue_counts_rows_instead_of_blocking() -> None:
    busy, release = threading.Event(), threading.Event()

    def stuck(rows):
        busy.set()
        release.wait(10)
        return len(rows)

    log = PredictionLog(None, capacity=2, batch_size=1, writer=stuck)
    log.start()
    log.submit(_row(0))
    assert busy.wait(10)  # the writer holds row 0
    for i in range(1, 10):
        log.submit(_row(i))  # returns at once: rows 1-2 queue, rows 3-9 are counted failed
    assert log.failed == 7
    release.set()
    log.close()
    assert (log.written, log.failed) == (3, 7)


# --- the spool (issue 28, finding 1) -------------------------------------------------------


def _spooled_row(i: int) -> dict:
    return {**_row(i), "created_at": datetime.now(UTC), "origin_date": date(2020, 1, 2)}


def test_spooled_rows_are_in_the_file_when_submit_returns(tmp_path) -> None:
    log = PredictionLog(None, spool_dir=tmp_path, writer=lambda rows: len(rows))
    log.submit(_spooled_row(1))
    [segment] = tmp_path.glob("*.jsonl")
    [line] = segment.read_bytes().splitlines()
    assert json.loads(line)["request_id"] == "r1"
    log.close()
    assert list(tmp_path.iterdir()) == []  # drained at shutdown: nothing left to replay


def test_a_gone_workers_spool_is_replayed_and_each_row_stored_once(database_url, tmp_path):
    spool = tmp_path / "spool"
    database = get_database(database_url)
    crashed = PredictionLog(database, spool_dir=spool)
    for i in range(20):
        crashed.submit(_spooled_row(i))
    # Five rows reached the database before the crash, but the file still holds them.
    lines = next(spool.glob("*.jsonl")).read_bytes().splitlines()
    with database.session() as session:
        crud.record_predictions(session, [_decode(line) for line in lines[:5]])
    crashed.spool._lock_file.close()  # the worker is gone: its lock is free

    successor = PredictionLog(database, spool_dir=spool)
    successor.start()
    successor.close()
    rows = crud_on(database_url).recent_predictions(100)
    assert sorted(r["request_id"] for r in rows) == sorted(f"r{i}" for i in range(20))
    assert len({r["request_id"] for r in rows}) == len(rows) == 20
    assert rows[0]["origin_date"] == date(2020, 1, 2)
    assert successor.failed == 0
    assert list(spool.iterdir()) == []


def test_a_live_workers_spool_is_not_replayed_by_another(tmp_path) -> None:
    written: list[dict] = []
    alive = PredictionLog(None, spool_dir=tmp_path, writer=lambda rows: len(rows))
    alive.submit(_spooled_row(1))
    other = PredictionLog(None, spool_dir=tmp_path, writer=lambda r: written.extend(r) or len(r))
    other.start()
    other.close()
    assert written == []
    alive.close()


def test_rows_wait_in_the_spool_while_the_database_refuses_them(tmp_path) -> None:
    """A locked database is waited out: nothing is dropped, everything arrives once."""
    refusing = threading.Event()
    refusing.set()
    refused = threading.Semaphore(0)  # released once per refused write
    stored: list[dict] = []

    def writer(rows):
        if refusing.is_set():
            refused.release()
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        stored.extend(rows)
        return len(rows)

    log = PredictionLog(
        None, spool_dir=tmp_path, writer=writer, flush_interval_s=0.01, retry_delays_s=(0.01,)
    )
    log.start()
    for i in range(30):
        log.submit(_spooled_row(i))
    for _ in range(3):  # refused and retried three times, not a moment assumed long enough
        assert refused.acquire(timeout=10), "the log stopped retrying the locked database"
    assert stored == [] and log.failed == 0 and log.pending()
    refusing.clear()
    assert log.flush(timeout_s=10)
    log.close()
    assert [r["request_id"] for r in stored] == [f"r{i}" for i in range(30)]
    assert log.failed == 0 and log.written == 30


def test_segments_rotate_and_drained_ones_are_deleted(tmp_path) -> None:
    stored: list[dict] = []
    log = PredictionLog(
        None,
        spool_dir=tmp_path,
        writer=lambda rows: stored.extend(rows) or len(rows),
        flush_interval_s=0.01,
        segment_bytes=1_000,
    )
    log.start()
    for i in range(100):
        log.submit(_spooled_row(i))
        if i % 10 == 0:
            time.sleep(0.02)
    assert log.flush(timeout_s=10)
    assert len(list(tmp_path.glob("*.jsonl"))) == 1  # only the segment being written
    log.close()
    assert [r["request_id"] for r in stored] == [f"r{i}" for i in range(100)]


def test_a_torn_line_is_counted_as_dropped(tmp_path) -> None:
    crashed = PredictionLog(None, spool_dir=tmp_path, writer=lambda rows: len(rows))
    crashed.submit(_spooled_row(1))
    with next(tmp_path.glob("*.jsonl")).open("ab") as segment:
        segment.write(b'{"request_id": "r2", "mod')  # killed in the middle of a write
    crashed.spool._lock_file.close()
    dropped: list[int] = []
    successor = PredictionLog(
        None, spool_dir=tmp_path, writer=lambda rows: len(rows), on_failed=dropped.append
    )
    successor.start()
    successor.close()
    assert (successor.written, successor.failed, dropped) == (1, 1, [1])
