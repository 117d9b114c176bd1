"""GET /api/v1/monitoring: the champion's realized accuracy, drift and the recent decisions."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stock_lstm.api.v1.schemas.examples import with_examples


class RealizedOut(BaseModel):
    window: int = Field(description="Trading days of the ticker's own calendar, up to as_of.")
    n: int = Field(description="Forecast steps whose target close fell in the window.")
    mae: float | None = Field(description="Mean absolute error in price units; null when n = 0.")
    naive_mae: float | None = Field(
        description="The naive forecast's (origin close) MAE on the same origins and steps."
    )
    mae_ratio: float | None = Field(
        description="mae / naive_mae: below 1 beats the naive forecast; null if undefined."
    )
    coverage: float | None = Field(
        description="Share of actual closes inside the forecast interval (nominal 90%)."
    )


class DriftOut(BaseModel):
    ks: float | None = Field(
        description="Largest two-sample KS statistic over the features (log return, volatility) "
        "of the recent days against the champion's training period; null: too little data."
    )
    psi: float | None = Field(description="Largest population stability index over the features.")
    flag: bool = Field(description="A feature crossed both its KS and its PSI threshold.")


class TickerMonitoringOut(BaseModel):
    realized: RealizedOut
    drift: DriftOut


class DecisionOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    kind: Literal["retrain", "promotion"]
    as_of: dt.date
    model_version: str | None = Field(
        description="retrain: the champion judged; promotion: the candidate judged."
    )
    retrain: bool | None = Field(default=None, description="retrain: whether to retrain.")
    promoted: bool | None = Field(
        default=None, description="promotion: whether the candidate became champion."
    )
    reasons: list[str] = Field(description="Why: every decision has at least one reason.")


class MonitoringResponse(BaseModel):
    model_config = with_examples(
        {
            "model_version": "2026-01-05T10.00.00.000Z",
            "as_of": "2026-02-13",
            "tickers": {
                "MSFT": {
                    "realized": {
                        "window": 20,
                        "n": 400,
                        "mae": 6.1,
                        "naive_mae": 6.0,
                        "mae_ratio": 1.017,
                        "coverage": 0.91,
                    },
                    "drift": {"ks": 0.12, "psi": 0.18, "flag": False},
                }
            },
            "decisions": [
                {
                    "kind": "retrain",
                    "as_of": "2026-02-13",
                    "model_version": "2026-01-05T10.00.00.000Z",
                    "retrain": False,
                    "reasons": [
                        "no trigger: no ticker's 20-day MAE ratio to naive above 1.05 "
                        "on 5 trading days in a row, no drift, champion 28 of at most "
                        "250 trading days old"
                    ],
                }
            ],
            "forecast_counts": {
                "scored": 700,
                "partial": 29,
                "pending": 21,
                "no_ticker": 12,
                "unknown_ticker": 0,
                "unknown_origin": 0,
            },
        }
    )

    model_version: str | None = Field(
        description="The champion whose forecasts are judged; null before the first "
        "monitoring run (then `tickers` and `decisions` are empty, and `message` says why)."
    )
    as_of: dt.date | None = Field(description="The newest trading day the figures include.")
    tickers: dict[str, TickerMonitoringOut]
    decisions: list[DecisionOut] = Field(description="Recent retrain and promotion decisions.")
    forecast_counts: dict[str, int] | None = Field(
        default=None,
        description="Logged forecasts by scoring status. `no_ticker`: made from a price "
        "history the client sent, so they can never be scored; `pending`: no target close yet.",
    )
    champion_age_days: int | None = Field(
        default=None,
        description="Trading days since the last date the champion was trained on, as of as_of.",
    )
    message: str | None = Field(
        default=None, description="Why there are no figures yet (no monitoring run stored)."
    )
