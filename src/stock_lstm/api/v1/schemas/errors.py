"""The one error body every 4xx/5xx answer carries: `ErrorBody` documents it, `error_body` builds it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    field: str = Field(description="The offending field, e.g. `prices[3]`, `horizon`, `body`.")
    message: str
    type: str | None = Field(default=None, description="A machine-readable error kind.")


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong, in one sentence naming the field.")
    errors: list[FieldError] = Field(default_factory=list)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "detail": "prices: 12 closes given, the model needs at least 61 (window 60 + 1)",
                    "errors": [
                        {
                            "field": "prices",
                            "message": "12 closes given, the model needs at least 61 (window 60 + 1)",
                            "type": "too_short",
                        }
                    ],
                }
            ]
        }
    }


def field_error(field: str, message: str, type: str | None) -> dict[str, Any]:
    """One `FieldError` entry."""
    return {"field": field, "message": message, "type": type}


def error_body(detail: str, errors: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The JSON of an `ErrorBody`, for the exception handlers and the body-size middleware alike.
    A plain dict, not the model: errors are answered without a validation pass."""
    return {"detail": detail, "errors": list(errors)}


def error_responses(*codes: int) -> dict[int | str, dict]:
    """OpenAPI `responses=` entries documenting the error body for each status code."""
    descriptions = {
        401: "Missing or wrong X-API-Key (or the server has no API_KEY set)",
        404: "Unknown ticker or no such resource",
        409: "The registry refuses the change (incomplete version, sha256 mismatch...)",
        413: "Request body larger than the configured limit",
        429: "Too many failed X-API-Key attempts from this client; see Retry-After",
        422: "Invalid input; the message names the field",
        503: "No trained model loaded (run `make pipeline` first) or database down",
    }
    return {code: {"model": ErrorBody, "description": descriptions[code]} for code in codes}
