from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from stock_lstm.api.v1.dependencies import Actor, RequireApiKey, SessionDep, Switch
from stock_lstm.api.v1.schemas.errors import error_responses
from stock_lstm.api.v1.schemas.registry import ModelsResponse, PromotionResponse
from stock_lstm.api.v1.services import registry

router = APIRouter(tags=["models"])

VersionPath = Annotated[
    str,
    Path(
        max_length=64,
        pattern=r"^[0-9A-Za-z.:_\-]+$",
        description="A model version (see GET /api/v1/models).",
    ),
]


class PromoteRequest(BaseModel):
    reason: str = Field(
        default="promoted by hand", max_length=400, description="Recorded in the audit trail."
    )


@router.get(
    "/models",
    response_model=ModelsResponse,
    summary="The model registry: every version, its status and metrics, and every change",
    responses=error_responses(503),
)
def list_models(session: SessionDep) -> ModelsResponse:
    return registry.models_overview(session)


@router.post(
    "/models/rollback",
    response_model=PromotionResponse,
    summary="Serve the previous champion again (needs X-API-Key)",
    responses=error_responses(401, 409, 429, 503),
    dependencies=[RequireApiKey],
)
async def rollback(switch: Switch, actor: Actor) -> PromotionResponse:
    """Promotes the version the current champion replaced; every worker follows."""
    return await run_in_threadpool(registry.rollback, switch, actor=actor)


@router.post(
    "/models/{version}/promote",
    response_model=PromotionResponse,
    summary="Make a version the champion every worker serves (needs X-API-Key)",
    responses=error_responses(401, 404, 409, 422, 429, 503),
    dependencies=[RequireApiKey],
)
async def promote(
    version: VersionPath,
    switch: Switch,
    actor: Actor,
    body: Annotated[PromoteRequest | None, Body()] = None,
) -> PromotionResponse:
    """409 when the version is incomplete or a file fails its sha256 check; promoting the
    champion changes nothing (200, nothing recorded)."""
    reason = (body or PromoteRequest()).reason
    return await run_in_threadpool(registry.promote, switch, version, actor=actor, reason=reason)
