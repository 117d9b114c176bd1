"""The walk-forward backtest report (`make backtest` writes it), read for GET /api/v1/backtest.

The report is a file of the Kedro project, like the model's artifacts, so it is found under the
project root the app is configured with; its absence is a normal state, not an error.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from stock_lstm.api.v1.errors import ServiceUnavailable
from stock_lstm.api.v1.schemas.backtest import BacktestResponse

logger = logging.getLogger(__name__)

# Where the backtest pipeline's `backtest_report` catalog entry saves it, relative to the project.
BACKTEST_REPORT = Path("data/08_reporting/backtest.json")
NO_BACKTEST = "no backtest yet: run `make backtest`"


def backtest_report(project_root: Path) -> BacktestResponse:
    path = project_root / BACKTEST_REPORT
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return BacktestResponse(available=False, message=NO_BACKTEST, folds=[], leaderboard={})
    try:
        report = json.loads(text)
        if not isinstance(report, dict):
            raise ValueError("the report is not a JSON object")
        return BacktestResponse(
            available=True,
            message=None,
            folds=report.get("folds") or [],
            leaderboard=report.get("leaderboard") or {},
        )
    except ValueError as error:  # half-written or of another shape: say so, rerun fixes it
        logger.warning("backtest report %s is unreadable: %s", path, error)
        raise ServiceUnavailable(
            f"backtest report {BACKTEST_REPORT} is unreadable ({type(error).__name__}): "
            "rerun `make backtest`",
            type="backtest_unreadable",
        ) from error
