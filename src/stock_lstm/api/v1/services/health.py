"""GET /health: whether this worker can serve correctly, and why not.

Three checks: a model is loaded; it is the registry's champion (as of the worker's last
registry check, at most REGISTRY_POLL_SECONDS old: `serving`); the database answers and takes
writes (a DELETE matching no row, rolled back: `database` "ok", "read-only" or "unavailable").
The database check is cached for `DATABASE_CHECK_TTL_S`, so /health stays cheap for a load
balancer that probes often; a change shows within that time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from stock_lstm.api.v1.schemas.health import HealthResponse
from stock_lstm.api.v1.services.model_store import LoadedModel
from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import Database

logger = logging.getLogger(__name__)

DATABASE_CHECK_TTL_S = 2.0
_READ_ONLY_SIGNS = ("readonly", "read-only", "read only")


class DatabaseCheck:
    """The database's state ("ok", "read-only", "unavailable") and why, cached for a while."""

    def __init__(self, database: Database, ttl_s: float = DATABASE_CHECK_TTL_S) -> None:
        self._database = database
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._state: tuple[str, str | None] = ("unavailable", None)

    def state(self) -> tuple[str, str | None]:
        with self._lock:
            if time.monotonic() - self._checked_at >= self._ttl_s:
                self._state = self._check()
                self._checked_at = time.monotonic()
            return self._state

    def _check(self) -> tuple[str, str | None]:
        try:
            with self._database.session() as session:
                crud.ping(session)
        except Exception as error:  # any driver error means the same thing to a caller
            logger.warning("health: database unavailable: %s", error)
            return "unavailable", f"database unavailable: {type(error).__name__}"
        try:
            with self._database.session() as session:
                crud.probe_write(session)
                session.rollback()
        except SQLAlchemyError as error:
            text = str(getattr(error, "orig", error)).lower()
            if any(sign in text for sign in _READ_ONLY_SIGNS):
                logger.warning("health: database is read-only: %s", error)
                return "read-only", (
                    "database is read-only: served forecasts wait in the spool, the registry "
                    "cannot change"
                )
            if "locked" not in text:  # a writer holding SQLite's lock is not a fault
                logger.warning("health: database refuses a write: %s", error)
                return "unavailable", f"database refuses writes: {type(error).__name__}"
        return "ok", None


def health(
    model: LoadedModel | None,
    model_error: str | None,
    serving: str,
    database: DatabaseCheck,
    hide_paths: Callable[[str], str] = lambda text: text,
) -> HealthResponse:
    """ok only when the champion is served and the database answers and takes writes."""
    reasons = []
    if model is None:
        reasons.append(model_error or "no trained model: run `make pipeline` first")
    elif serving != "champion":
        reasons.append(f"serving {serving}")
    state, why = database.state()
    if why:
        reasons.append(why)
    return HealthResponse(
        status="degraded" if reasons else "ok",
        model_version=model.version if model is not None else None,
        serving=hide_paths(serving),
        database=state,
        reasons=[hide_paths(reason) for reason in reasons],
    )


def path_hider(*folders: Path) -> Callable[[str], str]:
    """A function that takes the absolute paths of `folders` out of a message for clients:
    `<folder>/data/06_models/x` becomes `data/06_models/x`, the folder alone "<server folder>"."""
    prefixes = sorted({str(folder) for folder in folders if str(folder) not in ("", "/")}, key=len)
    prefixes.reverse()  # the longest first: a data folder inside the project folder

    def hide(text: str) -> str:
        for prefix in prefixes:
            if prefix in text:
                text = text.replace(prefix + "/", "").replace(prefix, "<server folder>")
        return text

    return hide
