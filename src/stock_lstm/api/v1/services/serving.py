"""Every worker serves the registry's champion: the start-up load, then a follower thread.

The follower wakes on a PostgreSQL NOTIFY from a promotion (model_registry.RegistryListener)
or every `registry_poll_s` seconds (SQLite, and the safety net), reads the champion and, when it
differs from the version served, loads it completely (verified, warmed up) before swapping it in with
plain attribute assignments: a request already running keeps the ForecastService it was given.
A version that fails to load leaves the old model serving, and is retried at the next check.
While the database is unreachable the same loop is the retry. POST /api/v1/model/reload and
the promote/rollback endpoints call `converge` to check at once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from stock_lstm.api.observability import ApiMetrics
from stock_lstm.api.v1.services.forecasts import ForecastService, NoForecasts
from stock_lstm.api.v1.services.model_store import (
    NO_CHAMPION,
    NO_MODEL,
    LoadedModel,
    ModelStore,
    ModelUnavailable,
)
from stock_lstm.api.v1.services.prediction_log import PredictionLog
from stock_lstm.api.v1.services.stored_closes import StoredClosesCache
from stock_lstm.common.settings import Settings
from stock_lstm.data_pipeline.database import Database
from stock_lstm.data_pipeline.model_registry import RegistryListener

logger = logging.getLogger(__name__)


class ReloadFailed(RuntimeError):
    """The champion could not be served; the old model (if any) keeps serving."""


@dataclass(frozen=True)
class ReloadResult:
    model: LoadedModel
    previous_version: str | None

    @property
    def changed(self) -> bool:
        return self.model.version != self.previous_version


class ModelSwitch:
    """Owns `state.model`, `state.model_error` and `state.forecast_service` of one app."""

    def __init__(
        self,
        state: Any,
        settings: Settings,
        database: Database,
        log: PredictionLog,
        metrics: ApiMetrics,
    ) -> None:
        self._state = state
        self._settings = settings
        self._database = database
        self._log = log
        self._metrics = metrics
        self._loading = threading.Lock()  # one converge at a time (follower or endpoint)
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self._listener = RegistryListener(database)
        self.closes = StoredClosesCache(database)  # shared by every version served
        self._last_failure: str | None = None
        self._champion_checked = False
        self.champion: str | None = None  # the registry's, at the last check
        self.store: ModelStore | None = None

    @property
    def served_version(self) -> str | None:
        model = self._state.model
        return model.version if model is not None else None

    def serving(self) -> str:
        """ "champion" when this worker serves the registry's champion (as of its last check,
        at most REGISTRY_POLL_SECONDS old), else "stale: <why>"."""
        served = self.served_version
        if served is None:
            return "stale: no model is served"
        if not self._champion_checked or served == self.champion:
            return "champion"
        if self.champion is None:
            return f"stale: the registry has no champion, serving {served}"
        why = self._last_failure or "not loaded yet"
        return f"stale: the champion is {self.champion}, {why}"

    @property
    def error(self) -> str | None:
        """Why no model is served (None when one is)."""
        return self._state.model_error

    # --- start-up and shut-down -------------------------------------------------------------

    def start(self, catalog: Any | None, catalog_error: Exception | None = None) -> None:
        """Serve the champion from the project's `catalog` (None: it could not be opened, for
        `catalog_error`), then follow the registry in the background."""
        try:
            if catalog is None:
                raise catalog_error or ModelUnavailable("the project's catalog is not open")
            self.store = ModelStore(catalog, self._database)
        except Exception as error:  # no catalog, no model: say why on /health
            self._swap(None, f"{NO_MODEL} ({type(error).__name__}: {error})")
            return
        try:
            self.converge()
        except ReloadFailed:
            pass  # the reason is on state.model_error; the follower retries
        self._follower = threading.Thread(
            target=self._follow, name="registry-follower", daemon=True
        )
        self._follower.start()

    def close(self) -> None:
        self._stop.set()
        if self._follower is not None:
            self._follower.join(timeout=10)
        self._listener.close()
        self.closes.close()

    def _follow(self) -> None:
        while not self._stop.is_set():
            self._listener.wait(self._settings.registry_poll_s, self._stop)
            if self._stop.is_set():
                return
            try:
                self.converge()
            except ReloadFailed:
                pass  # logged once per distinct failure; the old model keeps serving
            except Exception:  # the follower must outlive any surprise
                logger.exception("checking the registry failed")

    # --- converge ---------------------------------------------------------------------------

    def converge(
        self, promoted: str | None = None, verified: dict[str, bytes] | None = None
    ) -> ReloadResult:
        """Serve the registry's champion now, unless it is already served. `verified`: the
        bytes of `promoted`'s files as this worker's promotion just checked them."""
        with self._loading:
            previous = self._state.model
            current = previous.version if previous is not None else None
            try:
                if self.store is None:
                    raise ModelUnavailable(self._state.model_error or NO_MODEL)
                champion = self.store.champion()
                self.champion, self._champion_checked = champion, True
                if champion is None:
                    raise ModelUnavailable(NO_CHAMPION)
                if champion == current:
                    self._last_failure = None
                    return ReloadResult(previous, current)
                loaded = self.store.load(champion, verified if champion == promoted else None)
            except ModelUnavailable as error:
                still = f"still serving {current}" if current else "no model is served"
                message = f"{still}: {error}"
                if message != self._last_failure:
                    logger.error("cannot serve the champion (%s)", message)
                    self._last_failure = message
                if previous is None:
                    self._swap(None, str(error))
                raise ReloadFailed(message) from error
            self._last_failure = None
            self._swap(loaded, None)
            logger.info("serving model version %s (was %s)", loaded.version, current)
            return ReloadResult(loaded, current)

    def _swap(self, model: LoadedModel | None, error: str | None) -> None:
        state = self._state
        old = state.model
        # The service first: it carries its own model, so a request sees one consistent pair.
        state.forecast_service = (
            ForecastService(model, self._log, self._metrics, self.closes)
            if model is not None
            else NoForecasts(error or NO_MODEL)
        )
        state.model, state.model_error = model, error
        if old is not None and (model is None or old.version != model.version):
            self._metrics.model_info.remove(old.version)
        if model is not None:
            self._metrics.model_info.labels(model.version).set(1)
