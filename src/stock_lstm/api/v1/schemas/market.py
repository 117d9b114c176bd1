"""Stored market data: tickers and their clean daily prices."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class TickerOut(BaseModel):
    ticker: str
    first_date: dt.date
    last_date: dt.date
    rows: int


class TickersResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tickers": [
                        {
                            "ticker": "MSFT",
                            "first_date": "2015-01-02",
                            "last_date": "2025-12-31",
                            "rows": 2765,
                        }
                    ]
                }
            ]
        }
    )

    tickers: list[TickerOut]


class PriceBar(BaseModel):
    date: dt.date
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    adj_close: float | None
    volume: int | None


class PricesResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ticker": "MSFT",
                    "data_version": 2,
                    "count": 1,
                    "prices": [
                        {
                            "date": "2025-12-31",
                            "open": 484.0,
                            "high": 486.2,
                            "low": 481.3,
                            "close": 483.6,
                            "adj_close": 483.6,
                            "volume": 15600000,
                        }
                    ],
                }
            ]
        }
    )

    ticker: str
    data_version: int
    count: int
    prices: list[PriceBar]
