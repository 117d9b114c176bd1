from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from stock_lstm.api.v1.dependencies import Forecasts, RequestId
from stock_lstm.api.v1.schemas.errors import error_responses
from stock_lstm.api.v1.schemas.predict import (
    MODEL_VERSION_HEADER,
    PREDICT_EXAMPLES,
    PredictRequest,
    PredictResponse,
)

router = APIRouter(tags=["forecasts"])


@router.post(
    "/predict",
    response_model=PredictResponse,
    summary="Forecast the next closes from a sent history or a stored ticker",
    responses=error_responses(404, 413, 422, 503),
)
async def predict(
    body: Annotated[PredictRequest, Body(openapi_examples=PREDICT_EXAMPLES)],
    service: Forecasts,
    request_id: RequestId,
) -> Response:
    """Closes for steps 1..horizon with calibrated interval bounds. In ticker mode the newest
    stored clean closes are used and each step carries its (business-day) date. The model
    version that produced it is in `model_version` and the `X-Model-Version` header."""
    forecast = await service.predict_async(body, request_id)
    # Serialised here: the service built the response model, a second validation pass by
    # FastAPI (response_model) would only repeat it. The schema stays documented.
    return Response(
        forecast.model_dump_json(),
        media_type="application/json",
        headers={MODEL_VERSION_HEADER: forecast.model_version},
    )
