"""The prediction log never blocks a request and never loses a row silently."""

from __future__ import annotations

import logging
import threading

from stock_lstm.api.v1.services.prediction_log import PredictionLog
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
