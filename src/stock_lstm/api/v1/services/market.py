"""Stored tickers and prices, shaped for the API (reads go through crud)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from stock_lstm.api.v1.errors import InvalidInput, no_prices_yet, unknown_ticker
from stock_lstm.api.v1.schemas.market import PriceBar, PricesResponse, TickerOut, TickersResponse
from stock_lstm.data_pipeline import crud


def list_tickers(session: Session) -> TickersResponse:
    return TickersResponse(
        tickers=[
            TickerOut(ticker=s.ticker, first_date=s.first_date, last_date=s.last_date, rows=s.rows)
            for s in crud.ticker_summaries(session, "clean")
        ]
    )


def ticker_prices(
    session: Session, ticker: str, start: date | None, end: date | None, limit: int
) -> PricesResponse:
    ticker = ticker.upper()
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"start {start} is after end {end}", field="start", type="date_order")
    try:
        frame = crud.load_ticker_prices(session, ticker, start=start, end=end, limit=limit)
    except crud.StageError as error:
        raise no_prices_yet() from error
    if frame.empty and not _known(session, ticker):
        raise unknown_ticker(ticker)
    version_id = int(frame.attrs["version_id"])
    frame = frame.assign(date=frame["date"].dt.date).astype(object)
    frame = frame.where(frame.notna(), None)
    bars = [PriceBar(**row) for row in frame[list(PriceBar.model_fields)].to_dict("records")]
    return PricesResponse(ticker=ticker, data_version=version_id, count=len(bars), prices=bars)


def _known(session: Session, ticker: str) -> bool:
    return not crud.load_ticker_prices(session, ticker, limit=1).empty
