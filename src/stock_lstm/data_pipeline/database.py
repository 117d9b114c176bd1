"""One engine and session factory per database URL, with the schema migrated on first use."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from stock_lstm.common.settings import get_settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 5  # PostgreSQL (libpq's connect_timeout)
_BUSY_TIMEOUT_PRAGMA = "PRAGMA busy_timeout=30000"  # keep equal to SQLITE_BUSY_TIMEOUT_MS

_migrated: set[str] = set()
_migrate_lock = threading.RLock()


def _configure_sqlite(engine: Engine) -> None:
    """WAL lets the API read while a pipeline writes; the busy timeout makes writers queue."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - driver callback
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(_BUSY_TIMEOUT_PRAGMA)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


_engines: dict[str, Engine] = {}


def _create_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder: a fresh volume or checkout has neither."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _engine_for(url: str) -> Engine:
    with _migrate_lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                _create_sqlite_folder(url)
                engine = create_engine(
                    url,
                    connect_args={
                        "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                        "check_same_thread": False,
                    },
                )
                _configure_sqlite(engine)
            else:
                # A host that drops packets must not hang /health for the OS's TCP timeout.
                engine = create_engine(
                    url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
                )
            _engines[url] = engine
        return engine


def get_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """The shared engine for `url` (default: settings), its schema upgraded to head once."""
    url = url or get_settings().database_url
    engine = _engine_for(url)
    if migrate and url not in _migrated:
        with _migrate_lock:
            if url not in _migrated:
                from stock_lstm.data_pipeline.migrations import upgrade

                upgrade(engine)
                _migrated.add(url)
    return engine


@lru_cache(maxsize=16)
def _session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One transaction: commits when the block ends, rolls back everything on any exception."""
    session = _session_factory(url or get_settings().database_url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engines() -> None:
    """Close every pooled connection (tests, and processes that fork).

    The databases stay migrated: forgetting that would make any thread still using a URL (an
    API's registry follower) run Alembic again, and Alembic's context is process-global."""
    with _migrate_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _session_factory.cache_clear()
