"""The FastAPI app: `create_app()` wires routers, middleware and metrics; the lifespan starts the
prediction log writer and serves the model registry's champion (ONNX Runtime, loaded through
the Kedro catalog), following every promotion (services/serving.py). TensorFlow is never
imported here.

Run with `make serve` (uvicorn stock_lstm.api.app:app, one worker, 127.0.0.1:8000).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator

import stock_lstm
from stock_lstm.api.observability import (
    ACCESS_LOG,
    REQUEST_ID_HEADER,
    ApiMetrics,
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    configure_logging,
)
from stock_lstm.api.v1.dependencies.security import KeyRing
from stock_lstm.api.v1.errors import install_error_handlers
from stock_lstm.api.v1.router import api_router
from stock_lstm.api.v1.routers import health
from stock_lstm.api.v1.schemas.predict import MODEL_VERSION_HEADER
from stock_lstm.api.v1.services.backtest import BacktestReport
from stock_lstm.api.v1.services.forecasts import NoForecasts
from stock_lstm.api.v1.services.health import DatabaseCheck, path_hider
from stock_lstm.api.v1.services.model_store import NO_MODEL
from stock_lstm.api.v1.services.monitoring import MonitoringCollector, MonitoringReport
from stock_lstm.api.v1.services.prediction_log import PredictionLog
from stock_lstm.api.v1.services.serving import ModelSwitch
from stock_lstm.api.web.pages import install_pages
from stock_lstm.common import trading_calendar
from stock_lstm.common.errors import SettingsError
from stock_lstm.common.settings import (
    DEFAULT_DATA_DIR,
    Settings,
    data_folder,
    get_settings,
    settings_or_exit,
)
from stock_lstm.data_pipeline.catalog import environment_database, open_catalog
from stock_lstm.data_pipeline.database import get_database

logger = logging.getLogger(__name__)

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

DESCRIPTION = """Forecasts of daily closing prices from an LSTM trained by the project's Kedro
pipelines, with calibrated prediction intervals. Send your own history of closes (any stock) or
name a stored ticker. Every worker serves the model registry's champion; every forecast names
its model version (`model_version`, header `X-Model-Version`) and is logged to the
`predictions` table."""


def open_project_catalog(settings: Settings) -> tuple[Any | None, Exception | None]:
    """The project's catalog (no Kedro session, datasets created on first use), or why it
    cannot be opened: then no model is served and /health says why."""
    try:
        return open_catalog(settings.project_root, settings.kedro_env), None
    except Exception as error:
        logger.error("cannot open the project's catalog: %s", error)
        return None, error


def project_database_url(settings: Settings) -> str:
    """The database of the Kedro environment served (KEDRO_ENV), the one its pipelines write
    to (DATABASE_URL wins): `KEDRO_ENV=test` never opens the main database. If the project's
    configuration cannot be read, DATABASE_URL's default (and /health names the catalog error)."""
    try:
        return environment_database(settings.project_root, settings.kedro_env, settings)
    except Exception as error:
        logger.error("cannot read the environment's database from the configuration: %s", error)
        return settings.database_url


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; nothing is loaded until the lifespan starts (so importing stays cheap).
    Without `settings`, the environment's (a bad value raises SettingsError naming it)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    metrics = ApiMetrics.create(CollectorRegistry())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        # Connects to nothing yet: a database that is down is retried by each user of it.
        database_url = project_database_url(settings)
        state.database = get_database(database_url)
        state.database_check = DatabaseCheck(state.database)
        state.monitoring_report = MonitoringReport(state.database)
        collector = MonitoringCollector(state.monitoring_report)
        metrics.registry.register(collector)
        state.prediction_log = PredictionLog(
            state.database,
            spool_dir=settings.model_copy(update={"database_url": database_url}).spool_folder,
            on_written=metrics.predictions_logged.inc,
            on_failed=metrics.prediction_log_dropped.inc,
        )
        state.prediction_log.start()
        catalog, catalog_error = open_project_catalog(settings)
        state.backtest_report = BacktestReport.in_catalog(
            catalog, settings.project_root, catalog_error
        )
        state.model_switch = ModelSwitch(
            state, settings, state.database, state.prediction_log, metrics
        )
        state.model_switch.start(catalog, catalog_error)
        trading_calendar.warm_up()  # the dates of a stored ticker's forecast, off the request
        restore_sighup = reload_keys_on_sighup(state.key_ring)
        try:
            yield
        finally:
            restore_sighup()
            state.model_switch.close()
            state.prediction_log.close()
            metrics.registry.unregister(collector)
            state.database.dispose()
            ACCESS_LOG.flush()

    app = FastAPI(
        title="stock-lstm",
        version=stock_lstm.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by install_pages from local assets: FastAPI's defaults load them from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.key_ring = KeyRing(settings)  # a bad API_KEYS_FILE stops start-up here
    # What a client reads names artifacts and versions, never the server's folders.
    app.state.hide_paths = path_hider(
        settings.project_root,
        data_folder(settings.project_root, settings.data_dir or DEFAULT_DATA_DIR),
    )
    app.state.metrics = metrics
    app.state.model, app.state.model_error = None, NO_MODEL
    app.state.forecast_service = NoForecasts(NO_MODEL)

    install_error_handlers(app)
    app.include_router(health.router)  # outside /api/v1: what load balancers probe
    app.include_router(api_router)
    install_pages(app)

    # Added innermost first: the request-id/log middleware wraps everything, the size limit
    # runs before any body is parsed.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
    )
    if settings.cors_origins:  # closed unless CORS_ORIGINS lists origins
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, MODEL_VERSION_HEADER],
        )
    # Page assets (static files) are not API traffic: their size would swamp the latency series.
    Instrumentator(
        registry=metrics.registry, excluded_handlers=["/metrics", "/static/.*"]
    ).instrument(app, latency_lowr_buckets=LATENCY_BUCKETS_S).expose(
        app,
        endpoint="/metrics",
        include_in_schema=True,
        tags=["metrics"],
        summary="Prometheus metrics (text exposition format)",
        response_class=PlainTextResponse,
    )
    app.add_middleware(RequestContextMiddleware)
    return app


def reload_keys_on_sighup(key_ring: KeyRing) -> Callable[[], None]:
    """`kill -HUP <worker>` re-reads API_KEYS_FILE; returns what puts the old handler back. Only
    the main thread may set a handler (uvicorn's: yes; a test client's: no, nothing to do)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
        return lambda: None
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: key_ring.reload())
    return lambda: signal.signal(signal.SIGHUP, previous)


def app_or_exit() -> FastAPI:
    """The app of the environment's settings; a bad setting ends the process with one line."""
    try:
        return create_app(settings_or_exit())
    except SettingsError as error:
        raise SystemExit(f"Error: {error}") from None


def __getattr__(name: str) -> Any:
    """`app`, what `uvicorn stock_lstm.api.app:app` serves: the environment's app, made on its
    first access rather than at import, so importing this module (for create_app: the tests,
    the benchmarks, tools) reads no settings, configures no logging and starts no thread."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _APP_LOCK:
        if "app" not in globals():
            globals()["app"] = app_or_exit()
    return globals()["app"]


_APP_LOCK = threading.Lock()
