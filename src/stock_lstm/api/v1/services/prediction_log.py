"""Write every served forecast to `predictions` off the request path, surviving a crash.

With a spool folder (the API's), `submit` appends the forecast as one JSON line to this
worker's spool file before the answer is sent: one `os.write` on an O_APPEND descriptor, a few
microseconds, after which the line is in the kernel's page cache, so a killed worker (kill -9,
an OOM kill) loses nothing it answered. A background thread fsyncs the file every
`SPOOL_FSYNC_INTERVAL_S` (the window a crash of the whole machine can lose), reads the new lines
and inserts them in batches; while the database refuses (locked by a pipeline, down) the rows
wait in the file and the insert is retried, nothing is dropped. Each forecast carries a key
(`log_key`, unique in the table), so a line inserted twice is stored once. The file rotates
into a new segment at `segment_bytes`; a drained segment is deleted. At start-up the thread
first replays the segments of workers that are gone (their lock file is free).

Without a spool folder (or when the spool cannot be written), rows wait on a bounded
in-memory queue and a batch that still fails after a few retries is lost. Every forecast that
could not be recorded (full queue, failed batch, a row the database refuses for good, a torn
line) is counted (`failed`, Prometheus `prediction_log_dropped_total`) and logged.
`close()` drains what is pending, at shutdown.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
import portalocker
from sqlalchemy.exc import DataError, IntegrityError

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import Database

logger = logging.getLogger(__name__)

Writer = Callable[[Sequence[dict[str, Any]]], int]

# How often the spool is fsynced and drained: what a power loss or kernel crash can lose (a
# crash of the worker alone loses nothing answered).
SPOOL_FSYNC_INTERVAL_S = 0.1
SEGMENT_BYTES = 8 * 1024 * 1024
_SEGMENT_SUFFIX = ".jsonl"
_LOCK_SUFFIX = ".lock"
_MAX_RETRY_DELAY_S = 5.0


class PredictionLog:
    def __init__(
        self,
        database: Database | None,
        *,
        spool_dir: Path | None = None,
        capacity: int = 10_000,
        batch_size: int = 500,
        flush_interval_s: float = SPOOL_FSYNC_INTERVAL_S,
        retry_delays_s: Sequence[float] = (0.1, 0.5, 2.0),
        segment_bytes: int = SEGMENT_BYTES,
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
        self._worker = os.urandom(6).hex()  # this worker's spool files and forecast keys
        self._sequence = 0
        self._last_wait_reason: str | None = None
        self.spool = _Spool.open(spool_dir, self._worker, segment_bytes) if spool_dir else None
        self.written = 0
        self.failed = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, row: dict[str, Any]) -> None:
        """Record one served forecast; never blocks the request on the database. Spooled: the
        row is in the worker's file when this returns. A full memory queue counts it failed."""
        with self._lock:
            self._sequence += 1
            key = f"{self._worker}-{self._sequence}"
        row = {**row, "log_key": key}
        if self.spool is not None and self.spool.append(_encode(row)):
            return
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self._count_failed(1, f"queue full ({self._queue.maxsize} rows waiting)")

    def pending(self) -> int:
        spooled = self.spool.unread_bytes() if self.spool is not None else 0
        return self._queue.unfinished_tasks + (1 if spooled else 0)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every submitted row is written or counted failed; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the writer after it has drained what is pending (called at shutdown). Spooled
        rows the database did not take in time stay in the file: the next start replays them."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.error(
                    "prediction log: %d row(s) still unwritten at shutdown", self._queue.qsize()
                )
        else:  # never started: write what is queued now
            self._drain_all()
            if self.spool is not None:
                self._drain_spool(once=True)
        if self.spool is not None and not (self._thread and self._thread.is_alive()):
            self.spool.close()

    # --- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        if self.spool is not None:
            self._replay_orphans()
        while True:
            stopping = self._stop.is_set()
            if self.spool is not None:
                self._drain_spool(once=stopping)
            self._drain_all()
            if stopping:
                return
            self._stop.wait(self._flush_interval_s)

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
                    self._count_written(len(batch))
                    return
            self._count_failed(len(batch), f"{type(error).__name__}: {error}")
        finally:
            for _ in batch:
                self._queue.task_done()

    def _drain_spool(self, *, once: bool) -> None:
        """Insert the spool's new lines; while the database refuses, wait and retry (the rows
        stay in the file), unless `once` (shutdown: what is left is replayed at next start)."""
        assert self.spool is not None
        self.spool.sync()
        delay = self._retry_delays_s[0] if self._retry_delays_s else 0.1
        while True:
            lines, torn = self.spool.read()
            if torn:
                self._count_failed(torn, "torn line in the spool file")
            if not lines:
                self.spool.rotate_if_full()
                return
            if self._insert_lines(lines):
                self.spool.consumed()
                delay = self._retry_delays_s[0] if self._retry_delays_s else 0.1
                continue
            if once or self._stop.wait(delay):
                return
            delay = min(delay * 2, _MAX_RETRY_DELAY_S)

    def _insert_lines(self, lines: list[bytes]) -> bool:
        """True when every line is stored (or counted failed for good); False to retry later."""
        rows: list[dict[str, Any]] = []
        for line in lines:
            try:
                rows.append(_decode(line))
            except ValueError:
                self._count_failed(1, f"unreadable line in the spool file: {line[:80]!r}")
        for start in range(0, len(rows), self._batch_size):
            batch = rows[start : start + self._batch_size]
            try:
                self._writer(batch)
            except (IntegrityError, DataError):  # a row refused for good: store the others
                batch = self._refused_rows(batch)
                if batch is None:
                    return False
            except Exception as error:  # locked, read-only, down: the rows wait in the file
                self._note_waiting(error)
                return False
            else:
                self._count_written(len(batch))
        return True

    def _refused_rows(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """Write `batch` row by row, counting each row refused for good as failed; None when
        the database stops answering meanwhile (retry; a key stores a row once)."""
        for row in batch:
            try:
                self._writer([row])
            except (IntegrityError, DataError) as error:
                self._count_failed(1, f"{type(error).__name__}: {error.orig}")
            except Exception as error:
                self._note_waiting(error)
                return None
            else:
                self._count_written(1)
        return batch

    def _note_waiting(self, error: Exception) -> None:
        reason = f"{type(error).__name__}: {getattr(error, 'orig', error)}"
        if reason != self._last_wait_reason:
            logger.warning(
                "prediction log: the database refuses rows (%s); they wait in the spool", reason
            )
            self._last_wait_reason = reason

    def _replay_orphans(self) -> None:
        """Store the spooled rows of workers that are gone (crashed, killed)."""
        assert self.spool is not None
        for orphan in self.spool.orphans():
            with orphan:
                lines, torn = orphan.read_all()
                if torn:
                    self._count_failed(torn, "torn line in a dead worker's spool file")
                while lines and not self._insert_lines(lines):
                    if self._stop.wait(self._retry_delays_s[-1] if self._retry_delays_s else 1):
                        return  # shutting down: the files stay for the next start
                orphan.remove()
                if lines:
                    logger.info(
                        "prediction log: replayed %d row(s) of worker %s", len(lines), orphan.worker
                    )

    def _count_written(self, rows: int) -> None:
        with self._lock:
            self.written += rows
        self._on_written(rows)

    def _count_failed(self, rows: int, reason: str) -> None:
        with self._lock:
            self.failed += rows
        self._on_failed(rows)
        logger.error("prediction log: %d row(s) not written: %s", rows, reason)


class _Spool:
    """One worker's append-only segments `<worker>.<n>.jsonl` beside its lock `<worker>.lock`
    (held while the worker lives, so a starting worker knows whose files it may replay)."""

    def __init__(self, folder: Path, worker: str, segment_bytes: int, lock: Any) -> None:
        self.folder = folder
        self.worker = worker
        self._segment_bytes = segment_bytes
        self._lock_file = lock
        self._guard = threading.Lock()
        self._write_index = 0
        self._fd = self._open_segment(0)
        self._size = 0
        self._synced = 0
        self._failed_write = False
        self._read_index = 0
        self._read_offset = 0
        self._pending_offset = 0
        self._retired: list[int] = []

    @classmethod
    def open(cls, folder: Path, worker: str, segment_bytes: int) -> _Spool | None:
        """The spool, or None (logged) when the folder cannot be written."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock = open(folder / f"{worker}{_LOCK_SUFFIX}", "a")  # noqa: SIM115 - held for life
            portalocker.lock(lock, portalocker.LOCK_EX | portalocker.LOCK_NB)
            return cls(folder, worker, segment_bytes, lock)
        except OSError as error:
            logger.error(
                "prediction log: no spool in %s (%s): rows wait in memory only", folder, error
            )
            return None

    def _segment(self, index: int) -> Path:
        return self.folder / f"{self.worker}.{index:06d}{_SEGMENT_SUFFIX}"

    def _open_segment(self, index: int) -> int:
        return os.open(self._segment(index), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def append(self, line: bytes) -> bool:
        """One line, in the page cache on return; False when it could not be written."""
        with self._guard:
            try:
                if self._failed_write:  # end a line a failed write may have torn
                    os.write(self._fd, b"\n")
                    self._failed_write = False
                written = os.write(self._fd, line)
            except OSError as error:
                self._failed_write = True
                logger.error("prediction log: spool write failed: %s", error)
                return False
            self._size += written
            if written < len(line):
                self._failed_write = True
                return False
            return True

    def unread_bytes(self) -> int:
        with self._guard:
            if self._read_index < self._write_index:
                return 1 + self._size
            return self._size - self._read_offset

    def sync(self) -> None:
        """fsync what was appended since the last call (the writer thread, every interval)."""
        with self._guard:
            fd, size, retired, self._retired = self._fd, self._size, self._retired, []
        for old in retired:
            with contextlib.suppress(OSError):
                os.fsync(old)
            os.close(old)
        if size != self._synced:
            with contextlib.suppress(OSError):
                os.fsync(fd)
            self._synced = size

    def read(self) -> tuple[list[bytes], int]:
        """The complete lines not yet consumed, and how many torn lines were skipped. Moves on
        to the next segment when this one is finished (the writer has moved on and every line
        of it is consumed), deleting it."""
        while True:
            with self._guard:
                finished = self._read_index < self._write_index
            path = self._segment(self._read_index)
            with open(path, "rb") as handle:
                handle.seek(self._read_offset)
                data = handle.read()
            end = data.rfind(b"\n") + 1
            if end:
                self._pending_offset = self._read_offset + end
                return [line for line in data[:end].split(b"\n") if line], 0
            if not finished:
                return [], 0
            torn = 1 if data.strip() else 0  # a finished segment ending mid-line
            path.unlink(missing_ok=True)
            with self._guard:
                self._read_index += 1
                self._read_offset = self._pending_offset = 0
            if torn:
                return [], torn

    def consumed(self) -> None:
        """The lines last read are stored."""
        self._read_offset = self._pending_offset

    def rotate_if_full(self) -> None:
        """Start a new segment once this one is over the size (off the request path)."""
        with self._guard:
            if self._size < self._segment_bytes:
                return
            fd = self._open_segment(self._write_index + 1)
            self._retired.append(self._fd)
            self._fd, self._write_index, self._size, self._synced = fd, self._write_index + 1, 0, 0

    def orphans(self) -> list[_Orphan]:
        """The spools of other workers whose lock is free (the worker is gone)."""
        workers = {
            path.name.split(".")[0]
            for path in self.folder.iterdir()
            if path.name.endswith((_SEGMENT_SUFFIX, _LOCK_SUFFIX))
        } - {self.worker}
        found = []
        for worker in sorted(workers):
            lock = open(self.folder / f"{worker}{_LOCK_SUFFIX}", "a")  # noqa: SIM115
            try:
                portalocker.lock(lock, portalocker.LOCK_EX | portalocker.LOCK_NB)
            except portalocker.exceptions.LockException:
                lock.close()  # alive
                continue
            found.append(_Orphan(self.folder, worker, lock))
        return found

    def close(self) -> None:
        """At shutdown: everything drained leaves no file behind; else the next start replays."""
        self.sync()
        os.close(self._fd)
        drained = self.unread_bytes() == 0
        if drained:
            for path in self.folder.glob(f"{self.worker}.*{_SEGMENT_SUFFIX}"):
                path.unlink(missing_ok=True)
            (self.folder / f"{self.worker}{_LOCK_SUFFIX}").unlink(missing_ok=True)
        self._lock_file.close()


class _Orphan:
    """A gone worker's spool, locked by the worker replaying it."""

    def __init__(self, folder: Path, worker: str, lock: Any) -> None:
        self.folder, self.worker, self._lock = folder, worker, lock
        self._segments = sorted(folder.glob(f"{worker}.*{_SEGMENT_SUFFIX}"))

    def __enter__(self) -> _Orphan:
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.close()

    def read_all(self) -> tuple[list[bytes], int]:
        lines: list[bytes] = []
        torn = 0
        for path in self._segments:
            data = path.read_bytes()
            end = data.rfind(b"\n") + 1
            lines.extend(line for line in data[:end].split(b"\n") if line)
            torn += 1 if data[end:].strip() else 0
        return lines, torn

    def remove(self) -> None:
        for path in self._segments:
            path.unlink(missing_ok=True)
        (self.folder / f"{self.worker}{_LOCK_SUFFIX}").unlink(missing_ok=True)


def _encode(row: dict[str, Any]) -> bytes:
    """One JSON line (dates and times as ISO 8601)."""
    return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)


def _decode(line: bytes) -> dict[str, Any]:
    row = orjson.loads(line)
    if not isinstance(row, dict):
        raise ValueError("not a row")
    if row.get("created_at"):
        row["created_at"] = datetime.fromisoformat(row["created_at"])
    if row.get("origin_date"):
        row["origin_date"] = date.fromisoformat(row["origin_date"])
    return row


def _record(database: Database | None, rows: Sequence[dict[str, Any]]) -> int:
    """One batch, one transaction."""
    if database is None:
        raise RuntimeError("the prediction log has neither a database nor a writer")
    with database.session() as session:
        return crud.record_predictions(session, rows)
