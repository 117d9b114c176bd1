"""GET /api/v1/backtest: the walk-forward backtest's leaderboard (models vs naive and drift), and
what its significance tests let it claim."""

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


class DieboldMariano(BaseModel):
    model_config = ConfigDict(extra="allow")

    statistic: float | None = Field(
        default=None, description="HLN-corrected DM statistic; negative: smaller errors than naive."
    )
    p_value: float | None = Field(default=None, description="Two-sided, before correction.")
    p_holm: float | None = Field(
        default=None, description="Holm-corrected across tickers (what a claim needs)."
    )


class Direction(BaseModel):
    hit_rate: float | None = None
    pt_statistic: float | None = None
    pt_p_value: float | None = Field(
        default=None,
        description="Pesaran–Timmermann one-sided p-value; null when the forecast never "
        "changes direction (no directional skill can be shown).",
    )


class StepSkill(BaseModel):
    """One model, ticker and step, over every test fold."""

    dm: DieboldMariano | None = None
    positive_share: float | None = Field(
        default=None, description="Share of origins whose forecast is above the last close."
    )
    base_rate: float | None = Field(default=None, description="Share of up moves.")
    direction: Direction | None = None
    mae_ratio_pooled: float | None = Field(
        default=None, description="MAE / naive's over every test origin."
    )


class TickerSkill(BaseModel):
    """`coverage_by_step` (steps 1..H) and one `h<k>` entry (StepSkill) per report step."""

    model_config = ConfigDict(extra="allow")

    coverage_by_step: list[float | None] = Field(default_factory=list)


class StepSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    avg_rel_mae: float | None = Field(
        default=None, description="Geometric mean over tickers of the MAE ratio to naive."
    )
    significant_wins: list[str] = Field(
        default_factory=list, description="Tickers where it beats naive (Holm-corrected DM)."
    )
    significant_losses: list[str] = Field(
        default_factory=list, description="Tickers where naive beats it (Holm-corrected DM)."
    )


class SeedSpread(BaseModel):
    model_config = ConfigDict(extra="allow")

    mae_ratio_by_seed: list[float | None] = Field(default_factory=list)
    range: float | None = None
    std: float | None = None


class ModelSkill(BaseModel):
    seeds: list[int] | None = Field(default=None, description="The network's seeds.")
    summary: dict[str, StepSummary] = Field(default_factory=dict, description="Per `h<k>`.")
    seed_spread: dict[str, dict[str, SeedSpread]] = Field(
        default_factory=dict, description="Per ticker and `h<k>`: the MAE ratio per seed."
    )
    tickers: dict[str, TickerSkill] = Field(default_factory=dict)


class StepSignificance(BaseModel):
    model_config = ConfigDict(extra="allow")

    spa_p_value: float | None = Field(
        default=None, description="SPA: small = at least one model beats naive."
    )
    mcs: list[str] | None = Field(default=None, description="The model confidence set.")


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
    universe: list[str] = Field(default_factory=list, description="The tickers backtested.")
    models: dict[str, ModelSkill] = Field(
        default_factory=dict,
        description="Per model: seeds, per-step summary (AvgRelMAE, significant wins and "
        "losses), seed spread, and per ticker the DM test, up share and coverage by step.",
    )
    significance: dict[str, StepSignificance] = Field(
        default_factory=dict, description="Per `h<k>`: SPA p-value and model confidence set."
    )
    significance_level: float | None = Field(
        default=None, description="The level the wins and losses are claimed at."
    )
