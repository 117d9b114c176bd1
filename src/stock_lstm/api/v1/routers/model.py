from __future__ import annotations

from fastapi import APIRouter

from stock_lstm.api.v1.dependencies import DatabaseUrl, ServingModel
from stock_lstm.api.v1.schemas.errors import error_responses
from stock_lstm.api.v1.schemas.model import ModelResponse
from stock_lstm.api.v1.services.model_info import model_details

router = APIRouter(prefix="/api/v1", tags=["model"])


@router.get(
    "/model",
    response_model=ModelResponse,
    summary="The serving model: version, data, parameters, test metrics vs the naive forecast",
    responses=error_responses(404, 503),
)
def get_model(model: ServingModel, url: DatabaseUrl) -> ModelResponse:
    return model_details(model, url)
