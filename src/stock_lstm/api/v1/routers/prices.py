from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BeforeValidator

from stock_lstm.api.v1.dependencies import SessionDep
from stock_lstm.api.v1.schemas.errors import error_responses
from stock_lstm.api.v1.schemas.market import PricesResponse
from stock_lstm.api.v1.schemas.predict import TICKER_PATTERN
from stock_lstm.api.v1.services.market import ticker_prices

router = APIRouter(tags=["market data"])

MAX_LIMIT = 10_000


def _iso_date_only(value: object) -> object:
    """Only YYYY-MM-DD: pydantic's lax mode would read `0.0` as a Unix timestamp (1970-01-01)."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


@router.get(
    "/prices/{ticker}",
    response_model=PricesResponse,
    summary="Stored clean daily prices of one ticker",
    responses=error_responses(404, 422),
)
def get_prices(
    session: SessionDep,
    ticker: Annotated[str, Path(pattern=TICKER_PATTERN, examples=["MSFT"])],
    start: Annotated[IsoDate | None, Query(description="First date (inclusive)")] = None,
    end: Annotated[IsoDate | None, Query(description="Last date (inclusive)")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="At most this many rows, the newest")
    ] = 1000,
) -> PricesResponse:
    """The newest clean version's bars, oldest first."""
    return ticker_prices(session, ticker, start, end, limit)
