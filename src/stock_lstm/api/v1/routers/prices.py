from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from stock_lstm.api.v1.dependencies import DatabaseUrl
from stock_lstm.api.v1.schemas.errors import error_responses
from stock_lstm.api.v1.schemas.market import PricesResponse
from stock_lstm.api.v1.schemas.predict import TICKER_PATTERN
from stock_lstm.api.v1.services.market import ticker_prices

router = APIRouter(prefix="/api/v1", tags=["market data"])

MAX_LIMIT = 10_000


@router.get(
    "/prices/{ticker}",
    response_model=PricesResponse,
    summary="Stored clean daily prices of one ticker",
    responses=error_responses(404, 422),
)
def get_prices(
    url: DatabaseUrl,
    ticker: Annotated[str, Path(pattern=TICKER_PATTERN, examples=["MSFT"])],
    start: Annotated[date | None, Query(description="First date (inclusive)")] = None,
    end: Annotated[date | None, Query(description="Last date (inclusive)")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="At most this many rows, the newest")
    ] = 1000,
) -> PricesResponse:
    """The newest clean version's bars, oldest first."""
    return ticker_prices(ticker, start, end, limit, url)
