"""`Database`: the one object that owns a database's engine and session factory.

One per URL per process (`get_database`): the API's lifespan, the Kedro datasets and the
command-line tools that name the same URL share it, so they share one connection pool. The
schema is migrated to head on the first session. A session is one transaction
(`Database.session()`); `crud` functions take that session as their first argument, so the
caller decides what one transaction holds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, column, create_engine, event, select, table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from stock_lstm.common.settings import get_settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 5  # PostgreSQL (libpq's connect_timeout)
_BUSY_TIMEOUT_PRAGMA = "PRAGMA busy_timeout=30000"  # keep equal to SQLITE_BUSY_TIMEOUT_MS

# Kept per URL, not per object: dispose_engines() forgets the objects, never that a database is
# migrated (a thread still holding an old object, e.g. an API's registry follower, must not run
# Alembic again: its context is process-global).
_migrated: set[str] = set()
_lock = threading.RLock()
_databases: dict[str, Database] = {}


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


def _create_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder: a fresh volume or checkout has neither."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _create_sqlite_folder(url)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    # A host that drops packets must not hang /health for the OS's TCP timeout.
    return create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )


class Database:
    """A database's engine and session factory. Creating one connects to nothing; the first
    `session()` upgrades the schema to head (once per URL and process)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        """The dialect's name: `sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Upgrade the schema to head, unless this process already did for this URL."""
        if self.url in _migrated:
            return
        with _lock:
            if self.url not in _migrated:
                from stock_lstm.data_pipeline.migrations import HEAD_REVISION, upgrade

                if self._revision() != HEAD_REVISION:
                    upgrade(self.engine)
                _migrated.add(self.url)

    def _revision(self) -> str | None:
        """The schema's Alembic revision (None: none recorded, or it cannot be read now)."""
        version = table("alembic_version", column("version_num"))
        try:
            with self.engine.connect() as connection:
                return connection.execute(select(version.c.version_num)).scalar()
        except SQLAlchemyError:  # no table yet, or the database is down: upgrade says which
            return None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commits when the block ends, rolls back everything on any exception.

        Objects stay readable after the commit (`expire_on_commit=False`)."""
        self.migrate()
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection (the engine opens new ones if used again)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"


def get_database(url: str | None = None) -> Database:
    """The process's `Database` for `url` (default: settings' DATABASE_URL), created once."""
    url = url or get_settings().database_url
    with _lock:
        database = _databases.get(url)
        if database is None:
            database = _databases[url] = Database(url)
        return database


def dispose_engines() -> None:
    """Close every pooled connection and forget the `Database` objects (tests, and processes
    that fork). The databases stay migrated (see `_migrated`)."""
    with _lock:
        for database in _databases.values():
            database.dispose()
        _databases.clear()
