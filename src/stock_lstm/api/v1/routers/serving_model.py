from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from stock_lstm.api.v1.dependencies import (
    AppSettings,
    RequireApiKey,
    ServingModel,
    SessionDep,
    Switch,
)
from stock_lstm.api.v1.errors import ServiceUnavailable
from stock_lstm.api.v1.schemas.errors import error_responses
from stock_lstm.api.v1.schemas.model import ModelResponse, ReloadResponse
from stock_lstm.api.v1.services.model_card import model_details
from stock_lstm.api.v1.services.serving import ReloadFailed

router = APIRouter(tags=["model"])


@router.get(
    "/model",
    response_model=ModelResponse,
    summary="The serving model: version, data, parameters, test metrics vs the naive forecast",
    responses=error_responses(404, 503),
)
def get_model(model: ServingModel, session: SessionDep, settings: AppSettings) -> ModelResponse:
    return model_details(session, model, settings.mlflow_tracking_uri)


@router.post(
    "/model/reload",
    response_model=ReloadResponse,
    summary="Converge now: serve the registry's champion without waiting (needs X-API-Key)",
    responses=error_responses(401, 429, 503),
    dependencies=[RequireApiKey],
)
async def reload_model(switch: Switch) -> ReloadResponse:
    """Every worker follows the registry's champion on its own within REGISTRY_POLL_SECONDS;
    this makes the worker that answers check at once. To change the model served, promote a
    version (POST /api/v1/models/{version}/promote). On failure the old model keeps serving
    and the answer says why (503)."""
    try:
        result = await run_in_threadpool(switch.converge)
    except ReloadFailed as error:
        raise ServiceUnavailable(f"reload failed, {error}", type="reload_failed") from error
    return ReloadResponse(
        model_version=result.model.version,
        previous_version=result.previous_version,
        changed=result.changed,
        loaded_at=result.model.loaded_at,
    )
