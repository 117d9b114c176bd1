from __future__ import annotations

from fastapi import APIRouter

from stock_lstm.api.v1.dependencies import SessionDep
from stock_lstm.api.v1.schemas.market import TickersResponse
from stock_lstm.api.v1.services.market import list_tickers

router = APIRouter(tags=["market data"])


@router.get("/tickers", response_model=TickersResponse, summary="Stored tickers")
def get_tickers(session: SessionDep) -> TickersResponse:
    """Each ticker of the newest clean version with its first/last date and row count."""
    return list_tickers(session)
