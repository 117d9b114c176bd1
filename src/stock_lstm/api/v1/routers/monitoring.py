from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from stock_lstm.api.v1.dependencies import Monitoring
from stock_lstm.api.v1.schemas.errors import error_responses
from stock_lstm.api.v1.schemas.monitoring import MonitoringResponse

router = APIRouter(tags=["model"])


@router.get(
    "/monitoring",
    response_model=MonitoringResponse,
    summary="The champion's realized accuracy against the naive forecast, drift and decisions",
    responses=error_responses(404, 422, 503),
)
async def get_monitoring(
    report: Monitoring,
    ticker: Annotated[
        str | None,
        Query(max_length=32, description="Only this ticker (as GET /api/v1/tickers spells it)."),
    ] = None,
) -> MonitoringResponse:
    """The newest monitoring run (`make daily`): per ticker, the champion's rolling MAE, its
    ratio to the naive forecast's and the interval coverage, the drift of recent returns from
    the training period, and the recent retrain/promotion decisions with their reasons.
    Before any run: 200 with empty figures and a `message`. An unknown `ticker`: 404."""
    return await run_in_threadpool(report.response, ticker)
