from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from stock_lstm.api.v1.dependencies import DatabaseDep, ModelStatus
from stock_lstm.api.v1.schemas.health import HealthResponse
from stock_lstm.api.v1.services.health import health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Liveness and readiness",
    responses={503: {"model": HealthResponse, "description": "Degraded: no model or no database"}},
)
def get_health(status: ModelStatus, database: DatabaseDep) -> JSONResponse:
    """200 `ok` when a model is loaded and the database answers; 503 `degraded` and why.
    The `Database`, not a request session: a database that is down is an answer here."""
    body = health(status.model, status.error, database)
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)
