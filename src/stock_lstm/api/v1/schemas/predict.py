"""POST /api/v1/predict: a history of closes (any stock) or a stored ticker, and a horizon."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

MAX_PRICES = 10_000
MODEL_VERSION_HEADER = "X-Model-Version"  # on every forecast: the version that produced it
TICKER_PATTERN = r"^[A-Za-z0-9^.\-=]{1,32}$"

Close = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
Ticker = Annotated[str, Strict(), StringConstraints(pattern=TICKER_PATTERN)]

_EXAMPLE_PRICES = [round(400 + 0.5 * i + (3 if i % 7 == 0 else 0), 2) for i in range(61)]

PREDICT_EXAMPLES = {
    "ticker": {
        "summary": "A stored ticker, 5 steps ahead",
        "value": {"ticker": "MSFT", "horizon": 5},
    },
    "prices": {
        "summary": "Your own history of closes (oldest first), next close",
        "value": {"prices": _EXAMPLE_PRICES, "horizon": 1},
    },
}


class PredictRequest(BaseModel):
    """Exactly one of `prices` or `ticker`; `horizon` steps ahead (1 = next trading day)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"ticker": "MSFT", "horizon": 5},
                {"prices": _EXAMPLE_PRICES, "horizon": 1},
            ]
        },
    )

    prices: Annotated[list[Close], Field(max_length=MAX_PRICES)] | None = Field(
        default=None,
        description=(
            "Daily closes, oldest first, finite and > 0. At least the model's `min_history` "
            f"(see GET /api/v1/model), at most {MAX_PRICES}."
        ),
    )
    ticker: Ticker | None = Field(
        default=None,
        description="A stored ticker (GET /api/v1/tickers): its newest clean closes are used.",
        examples=["MSFT"],
    )
    horizon: Annotated[int, Strict(), Field(ge=1)] = Field(
        default=1, description="Steps ahead, 1..max_horizon (see GET /api/v1/model)."
    )

    @model_validator(mode="after")
    def _prices_xor_ticker(self) -> Self:
        if (self.prices is None) == (self.ticker is None):
            which = "both" if self.prices is not None else "neither"
            raise PydanticCustomError(
                "prices_xor_ticker",
                "give exactly one of `prices` (a list of closes) or `ticker`; got {which}",
                {"which": which},
            )
        if self.ticker is not None:
            self.ticker = self.ticker.upper()
        return self


class ForecastStep(BaseModel):
    step: int = Field(description="1 = the next trading day after the history's last close.")
    date: dt.date | None = Field(
        description="Next business day (Mon-Fri) in ticker mode, else null."
    )
    close: float
    lower: float = Field(description="Lower bound of the calibrated prediction interval.")
    upper: float


class PredictResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ticker": "MSFT",
                    "model_version": "2026-01-05T10.00.00.000Z",
                    "horizon": 2,
                    "last_date": "2025-12-31",
                    "interval_level": 0.9,
                    "predictions": [
                        {
                            "step": 1,
                            "date": "2026-01-01",
                            "close": 483.1,
                            "lower": 475.2,
                            "upper": 491.0,
                        },
                        {
                            "step": 2,
                            "date": "2026-01-02",
                            "close": 483.4,
                            "lower": 472.0,
                            "upper": 494.9,
                        },
                    ],
                }
            ]
        }
    )

    ticker: str | None
    model_version: str
    horizon: int
    last_date: dt.date | None = Field(description="Date of the newest close used (ticker mode).")
    interval_level: float = Field(description="Nominal coverage of [lower, upper], e.g. 0.9.")
    predictions: list[ForecastStep]
