"""Which model the app serves, and how that changes: the start-up load, a retry while the
database is unreachable, and the explicit reload (POST /api/v1/model/reload).

A new model is built completely (loaded, verified, warmed up) before it is swapped in with
plain attribute assignments; a request already running keeps the ForecastService it was given,
so in-flight requests finish on the old model. A failed reload leaves the old model serving.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from stock_lstm.api.v1.observability import ApiMetrics, configure_logging
from stock_lstm.api.v1.services.forecasts import ForecastService, NoForecasts
from stock_lstm.api.v1.services.model_store import (
    NO_MODEL,
    DatabaseUnavailable,
    LoadedModel,
    ModelUnavailable,
    load_configured,
)
from stock_lstm.api.v1.services.prediction_log import PredictionLog
from stock_lstm.common.settings import Settings

logger = logging.getLogger(__name__)


class ReloadFailed(RuntimeError):
    """The reload found nothing servable; the old model (if any) keeps serving."""


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
        self, state: Any, settings: Settings, log: PredictionLog, metrics: ApiMetrics
    ) -> None:
        self._state = state
        self._settings = settings
        self._log = log
        self._metrics = metrics
        self._loading = threading.Lock()  # one load at a time (start-up retry or reload)
        self._stop = threading.Event()
        self._retry: threading.Thread | None = None

    # --- start-up ------------------------------------------------------------------------------

    def start(self) -> None:
        """Load at start-up; when the database is down, keep retrying in the background."""
        try:
            self._swap(self._load(), None)
        except DatabaseUnavailable as error:
            self._swap(None, str(error))
            self._retry = threading.Thread(target=self._retry_loop, name="model-retry", daemon=True)
            self._retry.start()
        except ModelUnavailable as error:
            self._swap(None, str(error))

    def close(self) -> None:
        self._stop.set()
        if self._retry is not None:
            self._retry.join(timeout=30)

    def _retry_loop(self) -> None:
        while not self._stop.wait(self._settings.model_retry_s):
            if self._state.model is not None:  # a reload got there first
                return
            try:
                self._swap(self._load(), None)
                return
            except DatabaseUnavailable as error:
                self._state.model_error = str(error)
            except ModelUnavailable as error:
                self._swap(None, str(error))
                return

    # --- reload ----------------------------------------------------------------------------------

    def reload(self) -> ReloadResult:
        """Serve the newest complete version (or the pinned one), unless it is already served."""
        previous = self._state.model
        current = previous.version if previous is not None else None
        try:
            loaded = self._load(unless_version=current)
        except ModelUnavailable as error:
            still = f"still serving {current}" if current else "no model is served"
            logger.error("model reload failed (%s): %s", still, error)
            raise ReloadFailed(f"reload failed, {still}: {error}") from error
        if loaded is None:  # already serving the version to serve
            return ReloadResult(previous, current)
        self._swap(loaded, None)
        logger.info("model reloaded: %s -> %s", current, loaded.version)
        return ReloadResult(loaded, current)

    # --- both ----------------------------------------------------------------------------------

    def _load(self, unless_version: str | None = None) -> LoadedModel | None:
        settings = self._settings
        with self._loading:
            try:
                return load_configured(settings, unless_version=unless_version)
            except ModelUnavailable as error:
                logger.error("no servable model: %s", error)
                raise
            except Exception as error:  # a corrupt artifact whose hash matched
                logger.exception("loading the model failed")
                raise ModelUnavailable(f"{NO_MODEL} ({type(error).__name__}: {error})") from error
            finally:
                # Kedro's bootstrap re-applies its logging config, resetting our loggers.
                configure_logging(settings.log_level)

    def _swap(self, model: LoadedModel | None, error: str | None) -> None:
        state = self._state
        old = state.model
        # The service first: it carries its own model, so a request sees one consistent pair.
        state.forecast_service = (
            ForecastService(model, self._log, self._metrics, self._settings.database_url)
            if model is not None
            else NoForecasts(error or NO_MODEL)
        )
        state.model, state.model_error = model, error
        if old is not None and (model is None or old.version != model.version):
            self._metrics.model_info.remove(old.version)
        if model is not None:
            self._metrics.model_info.labels(model.version).set(1)
