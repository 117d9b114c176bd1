"""Write every served forecast to `predictions` off the request path, in batches.

Requests only put a row on a bounded in-memory queue (never blocking); one background thread
drains it in batches through `crud.record_predictions`, retrying a failed batch a few times.
Rows are never lost silently: a full queue or a batch that still fails after the retries is
counted (`failed`, Prometheus `stock_lstm_prediction_log_failed_total`) and logged with the reason.
`close()` flushes what is queued, at shutdown.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import Database

logger = logging.getLogger(__name__)

Writer = Callable[[Sequence[dict[str, Any]]], int]


class PredictionLog:
    def __init__(
        self,
        database: Database | None,
        *,
        capacity: int = 10_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.25,
        retry_delays_s: Sequence[float] = (0.1, 0.5, 2.0),
        writer: Writer | None = None,
        on_written: Callable[[int], None] = lambda n: None,
        on_failed: Callable[[int], None] = lambda n: None,
    ) -> None:
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=capacity)
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._retry_delays_s = tuple(retry_delays_s)
        self._writer: Writer = writer or (lambda rows: _record(database, rows))
        self._on_written = on_written
        self._on_failed = on_failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.written = 0
        self.failed = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, row: dict[str, Any]) -> None:
        """Queue one row; never blocks the request. A full queue counts the row as failed."""
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self._count_failed(1, f"queue full ({self._queue.maxsize} rows waiting)")

    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued row is written or counted failed; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the writer after it has drained the queue (called at shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.error(
                    "prediction log: %d row(s) still unwritten at shutdown", self.pending()
                )
        else:  # never started: write what is queued now
            self._drain_all()

    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                first = self._queue.get(timeout=self._flush_interval_s)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _drain_all(self) -> None:
        while True:
            batch = []
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if not batch:
                return
            self._write(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        error: Exception | None = None
        try:
            for delay in (*self._retry_delays_s, None):
                try:
                    self._writer(batch)
                except Exception as exc:  # database down, locked, ...: retry, then count
                    error = exc
                    if delay is None or self._stop.is_set():
                        break
                    time.sleep(delay)
                else:
                    with self._lock:
                        self.written += len(batch)
                    self._on_written(len(batch))
                    return
            self._count_failed(len(batch), f"{type(error).__name__}: {error}")
        finally:
            for _ in batch:
                self._queue.task_done()

    def _count_failed(self, rows: int, reason: str) -> None:
        with self._lock:
            self.failed += rows
        self._on_failed(rows)
        logger.error("prediction log: %d row(s) not written: %s", rows, reason)


def _record(database: Database | None, rows: Sequence[dict[str, Any]]) -> int:
    """One batch, one transaction."""
    if database is None:
        raise RuntimeError("the prediction log has neither a database nor a writer")
    with database.session() as session:
        return crud.record_predictions(session, rows)
