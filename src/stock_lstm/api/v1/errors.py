"""Every error answers with the same body: {"detail": "...", "errors": [{field, message, type}]}."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from stock_lstm.api.observability import request_id_of
from stock_lstm.api.v1.schemas.errors import error_body, field_error

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a service raises on purpose; the handler turns it into its status and body."""

    status_code = 400
    headers: dict[str, str] | None = None

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.type = type
        if headers is not None:
            self.headers = headers


class InvalidInput(ApiError):
    status_code = 422


class Unauthorized(ApiError):
    status_code = 401
    headers = {"WWW-Authenticate": "ApiKey"}


class NotFound(ApiError):
    status_code = 404


def unknown_ticker(ticker: str) -> NotFound:
    """A ticker the database has never stored: the answer every endpoint taking one gives."""
    return NotFound(
        f"unknown ticker {ticker!r}: see GET /api/v1/tickers", field="ticker", type="unknown_ticker"
    )


def no_prices_yet() -> NotFound:
    """No price has been stored at all: the pipeline has not run yet."""
    return NotFound("no stored prices yet: run `make pipeline` first", field="ticker")


class Conflict(ApiError):
    status_code = 409


class ServiceUnavailable(ApiError):
    status_code = 503


def _field(loc: Sequence[Any]) -> str:
    """("body", "prices", 3) -> "prices[3]"; ("query", "limit") -> "limit"; ("body",) -> "body"."""
    parts = list(loc[1:]) if len(loc) > 1 and loc[0] in ("body", "query", "path") else list(loc)
    if loc and loc[0] == "body" and len(loc) == 2 and isinstance(loc[1], int):
        return "body"  # a JSON decode error's position, not a list index
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "json_invalid":
        return f"malformed JSON: {ctx.get('error', 'cannot parse')} at position {error['loc'][-1]}"
    if kind == "missing" and tuple(error.get("loc", ())) == ("body",):
        return "a JSON body is required"
    if kind == "model_attributes_type" and tuple(error.get("loc", ())) == ("body",):
        return "the body must be a JSON object"
    return str(error.get("msg", "invalid value"))


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        field_error(_field(e.get("loc", ())), _message(e), e.get("type")) for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    if len(errors) > 5:
        detail += f"; and {len(errors) - 5} more"
    return JSONResponse(error_body(detail, errors[:100]), status_code=422)


def _hide_paths(request: Request, text: str) -> str:
    """`text` without the server's folders (app.state.hide_paths): a client learns which
    artifact and version, never where they are stored."""
    hide = getattr(request.app.state, "hide_paths", None)
    return hide(text) if hide is not None else text


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    message = _hide_paths(request, exc.message)
    detail = f"{exc.field}: {message}" if exc.field else message
    errors = [field_error(exc.field, message, exc.type)] if exc.field else []
    return JSONResponse(
        error_body(detail, errors), status_code=exc.status_code, headers=exc.headers
    )


# FastAPI's answer to a body it cannot even decode (e.g. bytes that are not UTF-8).
_UNPARSABLE_BODY = "There was an error parsing the body"


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
        # The same answer as any other malformed JSON body: 422 naming the body.
        message = "malformed JSON: the body cannot be parsed (too deeply nested, or not UTF-8)"
        return JSONResponse(
            error_body(f"body: {message}", [field_error("body", message, "json_invalid")]),
            status_code=422,
        )
    return JSONResponse(
        error_body(_hide_paths(request, str(exc.detail))),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _database_error(_: Request, exc: SQLAlchemyError) -> JSONResponse:
    logger.error("database error: %s", exc)
    if "readonly" in str(getattr(exc, "orig", exc)).lower().replace("-", "").replace(" ", ""):
        return JSONResponse(
            error_body(
                "the database is read-only: nothing was changed; try again once it takes writes"
            ),
            status_code=503,
        )
    return JSONResponse(
        error_body(f"database unavailable ({type(exc).__name__}); try again later"),
        status_code=503,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request_id_of(request.scope)
    logger.error("unhandled error (request %s)", request_id, exc_info=exc)
    return JSONResponse(
        error_body(f"internal server error (request id {request_id})"), status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
