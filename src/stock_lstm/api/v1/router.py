"""Version 1 of the API: one router under `/api/v1` that includes every resource's router, so
the prefix is set here once (the FastAPI full-stack template's `api_router`)."""

from fastapi import APIRouter

from stock_lstm.api.v1.routers import (
    backtest,
    monitoring,
    predict,
    prices,
    registry,
    serving_model,
    tickers,
)

API_V1_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_V1_PREFIX)
for module in (predict, tickers, prices, serving_model, registry, backtest, monitoring):
    api_router.include_router(module.router)
