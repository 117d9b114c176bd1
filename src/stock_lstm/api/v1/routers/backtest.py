from __future__ import annotations

from fastapi import APIRouter

from stock_lstm.api.v1.dependencies import Backtest
from stock_lstm.api.v1.schemas.backtest import BacktestResponse
from stock_lstm.api.v1.schemas.errors import error_responses

router = APIRouter(tags=["model"])


@router.get(
    "/backtest",
    response_model=BacktestResponse,
    summary="The walk-forward backtest leaderboard: models vs the naive and drift baselines",
    responses=error_responses(503),
)
def get_backtest(report: Backtest) -> BacktestResponse:
    """The report of `make backtest`: per ticker and horizon, the models ranked by MAE ratio to
    the naive forecast (mean and spread over the folds), with interval coverage and Winkler
    score. Before any backtest ran: 200 with `available: false` and what to run."""
    return report.read()
