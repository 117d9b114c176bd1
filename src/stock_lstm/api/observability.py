"""Request ids, one JSON log line per request, the body size limit, and Prometheus metrics.

The middlewares are plain ASGI (no BaseHTTPMiddleware): they add microseconds, not milliseconds.
The access lines are written by a thread of their own (`AccessLog`): formatting a JSON line per
handler and taking the log file's lock cost more than the rest of a forecast.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector
from prometheus_fastapi_instrumentator.routing import get_route_name
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stock_lstm.api.v1.schemas.errors import error_body, field_error
from stock_lstm.common.logging import configure_logger

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")  # fits predictions.request_id
API_LOGGER = "stock_lstm.api"
ACCESS_LOGGER = f"{API_LOGGER}.access"


def configure_logging(level: str = "INFO") -> None:
    """The API's loggers (`stock_lstm.api.*`): JSON lines on stderr and in logs/api.log, as
    conf/json_logging.yml sets them, the access lines through `ACCESS_LOG`. Safe to call
    again: it only adds back what Kedro's bootstrap removed, and never removes another
    handler."""
    configure_logger(API_LOGGER, level)
    ACCESS_LOG.start()


class AccessLog(logging.Handler):
    """The access logger's one handler: it only appends the record to a list, and a writer
    thread hands the records, in order, every ACCESS_LOG_INTERVAL_S to the handlers the API
    logger has then (stderr, logs/api.log; Kedro's bootstrap may replace them and
    configure_logging adds them back). The request waits for neither the formatting nor the
    file's lock. `flush` writes what is pending now (shutdown, tests); a line still pending when
    the process is killed is lost (the predictions log is not: it has its own spool)."""

    def __init__(self, interval_s: float = 0.05) -> None:
        super().__init__()
        self._pending: collections.deque[logging.LogRecord] = collections.deque()
        self._writing = threading.Lock()
        self._interval_s = interval_s
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Route the access logger through this handler (once per process; idempotent)."""
        with self._writing:
            logger = logging.getLogger(ACCESS_LOGGER)
            if self not in logger.handlers:
                logger.addHandler(self)
            logger.propagate = False  # the writer hands the records to the API logger's handlers
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
                self._thread.start()

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        self._pending.append(record)  # thread-safe, no lock taken
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)

    def flush(self) -> None:
        """Write every line pending now."""
        with self._writing:
            api = logging.getLogger(API_LOGGER)
            while self._pending:
                api.callHandlers(self._pending.popleft())

    def after_fork(self) -> None:
        """A forked child has the records but not the writer thread: start its own."""
        self._writing = threading.Lock()
        if self._thread is not None:
            self._thread = None
            self.start()

    def _run(self) -> None:
        while True:
            time.sleep(self._interval_s)
            try:
                self.flush()
            except Exception:  # a handler that fails must not end the writer
                logging.getLogger(__name__).exception("writing the access log failed")


ACCESS_LOG = AccessLog()


def request_id_of(scope: Scope) -> str:
    """The id RequestContextMiddleware gave this request ("" outside one)."""
    return scope.get("state", {}).get("request_id", "")


class RequestContextMiddleware:
    """Give each request an id (a sane incoming X-Request-ID, else a new one), echo it in the
    response header, and log one JSON line with route, status and latency when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.logger = logging.getLogger(ACCESS_LOGGER)
        # (method, path) -> route of the paths that are their own route (no path parameter):
        # matching a path against every route costs more than the log line.
        self._static_routes: dict[tuple[str, str], str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or _new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # The full template (/api/v1/prices/{ticker}), as the metrics label it: an included
            # router's own route knows only its part of the path.
            route = self._route(scope)
            self.logger.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route or "<unmatched>",
                    "path": scope["path"],
                    "status": status,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )

    def _route(self, scope: Scope) -> str | None:
        key = (scope["method"], scope["path"])
        route = self._static_routes.get(key)
        if route is None:
            route = get_route_name(HTTPConnection(scope), should_include_root_path=False)
            if route == scope["path"] and len(self._static_routes) < MAX_STATIC_ROUTES:
                self._static_routes[key] = route
        return route


MAX_STATIC_ROUTES = 1_000
_ID_PREFIX = uuid.uuid4().hex[:16]  # this process's; a counter makes each id unique
_ID_COUNTER = itertools.count()


def _new_request_id() -> str:
    """A unique id without a system call per request (uuid4 reads the kernel's randomness)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def _after_fork() -> None:
    """A worker forked from a process that imported the app: ids and access lines of its own."""
    global _ID_PREFIX, _ID_COUNTER
    _ID_PREFIX, _ID_COUNTER = uuid.uuid4().hex[:16], itertools.count()
    ACCESS_LOG.after_fork()


os.register_at_fork(after_in_child=_after_fork)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None


# The status logged and counted for a request whose client went away before the answer
# (nginx's "client closed request"): not a server error.
CLIENT_CLOSED = 499


class BodySizeLimitMiddleware:
    """Answer 413 (in the API's error body) to a request body over `max_bytes`, and 408 when a
    part of the body does not arrive within `timeout_s`.

    The body is read here, up to the limit, and replayed to the app: a declared Content-Length
    over the limit is refused before reading anything, a chunked body as soon as it exceeds it.
    A client that disconnects meanwhile is answered CLIENT_CLOSED (499; uvicorn sends nothing
    to a closed connection), so the access log and the metrics count it as the client's.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 10.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                async with asyncio.timeout(self.timeout_s):
                    message = await receive()
            except TimeoutError:
                detail = f"body: not received within {self.timeout_s:g} s"
                await _answer(send, 408, detail, "timeout")
                return
            if message["type"] == "http.disconnect":
                await _answer(send, CLIENT_CLOSED, "client closed the request", "client_closed")
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await _answer(
            send, 413, f"body: request body larger than {self.max_bytes} bytes", "too_large"
        )


async def _answer(send: Send, status: int, detail: str, kind: str) -> None:
    """The API's error body, and the connection closed after it."""
    body = json.dumps(error_body(detail, [field_error("body", detail, kind)])).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


@dataclass(frozen=True)
class ApiMetrics:
    """The service's own Prometheus series, next to the instrumentator's per-route ones."""

    registry: CollectorRegistry
    forecasts_served: Counter
    predictions_logged: Counter
    prediction_log_dropped: Counter
    model_info: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ApiMetrics:
        # Resident memory, CPU time and start time of this process (the dashboard's health panel).
        ProcessCollector(registry=registry)
        return cls(
            registry=registry,
            forecasts_served=Counter(
                "stock_lstm_forecasts_served",
                "Forecasts served, by input mode (prices or ticker).",
                ["mode"],
                registry=registry,
            ),
            predictions_logged=Counter(
                "stock_lstm_prediction_log_written",
                "Forecast rows written to the predictions table.",
                registry=registry,
            ),
            prediction_log_dropped=Counter(
                "prediction_log_dropped",
                "Served forecasts that could not be recorded in the predictions table.",
                registry=registry,
            ),
            model_info=Gauge(
                "stock_lstm_model_info",
                "1 for the model version being served (label model_version); absent if none.",
                ["model_version"],
                registry=registry,
            ),
        )
