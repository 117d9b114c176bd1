"""GET /api/v1/backtest: the walk-forward backtest's leaderboard (models vs naive and drift)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MeanStd(BaseModel):
    mean: float | None
    std: float | None


class LeaderboardRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(description="A forecasting model or baseline (e.g. `lstm`, `naive`).")
    rank: int | None = Field(default=None, description="1 = the lowest mean MAE ratio.")
    mae_ratio: MeanStd | None = Field(
        default=None, description="MAE / the naive forecast's MAE over the folds: mean and spread."
    )
    coverage: float | None = Field(default=None, description="Share inside the 90% band.")
    winkler: float | None = Field(default=None, description="Winkler interval score (lower wins).")


class Fold(BaseModel):
    model_config = ConfigDict(extra="allow")

    origin: str | None = None
    test_start: str | None = None
    test_end: str | None = None


class BacktestResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "available": True,
                    "message": None,
                    "folds": [
                        {
                            "origin": "2011-06-01",
                            "test_start": "2011-06-02",
                            "test_end": "2011-12-01",
                        }
                    ],
                    "leaderboard": {
                        "MSFT": {
                            "h1": [
                                {
                                    "model": "lstm",
                                    "rank": 1,
                                    "mae_ratio": {"mean": 0.998, "std": 0.004},
                                    "coverage": 0.9,
                                    "winkler": 2.1,
                                },
                                {
                                    "model": "naive",
                                    "rank": 2,
                                    "mae_ratio": {"mean": 1.0, "std": 0.0},
                                    "coverage": 0.89,
                                    "winkler": 2.2,
                                },
                            ]
                        }
                    },
                },
                {
                    "available": False,
                    "message": "no backtest yet: run `make backtest`",
                    "folds": [],
                    "leaderboard": {},
                },
            ]
        }
    )

    available: bool = Field(description="False until `make backtest` wrote its report.")
    message: str | None = Field(description="Why there is nothing to show, when there is not.")
    folds: list[Fold] = Field(description="The walk-forward folds, oldest first.")
    leaderboard: dict[str, dict[str, list[LeaderboardRow]]] = Field(
        description="Per ticker, per horizon (`h1`, `h5`, `h30`): the models ranked."
    )
