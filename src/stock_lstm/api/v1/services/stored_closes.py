"""A stored ticker's newest closes, kept in memory until a new data version is stored.

A stored-ticker forecast needs the ticker's last `window + 1` clean closes and their last date.
This worker keeps them per ticker with the `clean` data version they were read at. Before a
cached entry is used, the stage's newest version id is read (`crud.StageVersionProbe`: one
covering-index lookup on a connection of its own; on SQLite a read of a local file taking
microseconds, so it runs inline on the event loop). An entry read at an older version is read
again, so a forecast never uses closes older than the newest version the database has
committed when the request asks. A miss is one indexed statement returning the rows and their
version (`crud.newest_closes`), no DataFrame.
"""

from __future__ import annotations

import threading

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import Database

MAX_TICKERS = 10_000  # entries kept (61 floats each); the oldest read is dropped first


class NoStoredPrices(LookupError):
    """The clean stage has no version yet: the pipeline has not run."""


class StoredClosesCache:
    """Thread-safe; shared by every model version a worker serves (keyed by rows too)."""

    def __init__(self, database: Database, stage: str = "clean") -> None:
        self._database = database
        self._stage = stage
        self._probe = crud.StageVersionProbe(database, stage)
        self._entries: dict[tuple[str, int], crud.StoredCloses] = {}
        self._lock = threading.Lock()

    @property
    def local(self) -> bool:
        """True when the version check reads a local file (no network round trip)."""
        return self._probe.local

    def cached(self, ticker: str, rows: int) -> crud.StoredCloses | None:
        """The entry for (ticker, rows) when it is of the newest version; None when it must
        be read (or the stage has no version: `get` says so). Raises what the database
        raises."""
        entry = self._entries.get((ticker, rows))
        if entry is None:
            return None
        return entry if entry.version_id == self._probe() else None

    def get(self, ticker: str, rows: int) -> crud.StoredCloses | None:
        """The newest `rows` closes of `ticker` (fewer when fewer are stored), or None for a
        ticker the stage does not hold; NoStoredPrices when it holds nothing at all."""
        entry = self.cached(ticker, rows)
        if entry is not None:
            return entry
        with self._database.session() as session:
            entry = crud.newest_closes(session, ticker, rows, stage=self._stage)
        if entry is None:
            if self._probe() is None:
                raise NoStoredPrices(f"stage {self._stage!r} has no data yet")
            return None
        with self._lock:
            if len(self._entries) >= MAX_TICKERS:
                self._entries.pop(next(iter(self._entries)))
            known = self._entries.get((ticker, rows))
            if known is None or known.version_id <= entry.version_id:
                self._entries[(ticker, rows)] = entry
        return entry

    def close(self) -> None:
        self._probe.close()
