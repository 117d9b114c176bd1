from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from stock_lstm.api.v1.dependencies import ModelStatus
from stock_lstm.api.v1.schemas.health import HealthResponse
from stock_lstm.api.v1.services.health import health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Liveness and readiness",
    responses={
        503: {
            "model": HealthResponse,
            "description": "Degraded: no model, not the champion, or a database that is down "
            "or read-only",
        }
    },
)
def get_health(status: ModelStatus, request: Request) -> JSONResponse:
    """200 `ok` when the registry's champion is served and the database answers and takes
    writes; otherwise 503 `degraded` and why (take this worker out of rotation)."""
    state = request.app.state
    body = health(
        status.model,
        status.error,
        state.model_switch.serving(),
        state.database_check,
        state.hide_paths,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)
