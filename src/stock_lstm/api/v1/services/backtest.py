"""The walk-forward backtest report (`make backtest` writes it), read for GET /api/v1/backtest.

The report is the `backtest_report` entry of the project's catalog: its location is taken from
the catalog once, at start-up (with the model's artifacts), so a request only reads one file and
never loads Kedro. Its absence is a normal state, not an error.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stock_lstm.api.v1.errors import ServiceUnavailable
from stock_lstm.api.v1.schemas.backtest import (
    BacktestResponse,
    ModelSkill,
    StepSignificance,
    StepSkill,
    TickerSkill,
)

logger = logging.getLogger(__name__)

REPORT_DATASET = "backtest_report"
NO_BACKTEST = "no backtest yet: run `make backtest`"


@dataclass(frozen=True)
class BacktestReport:
    """Where the backtest report lives (None: unknown, for `problem`), and its name in messages."""

    path: Path | None
    shown_as: str
    problem: str | None = None

    @classmethod
    def in_catalog(
        cls, catalog: Any | None, project_root: Path, catalog_error: Exception | None = None
    ) -> BacktestReport:
        """The `backtest_report` entry's file; named relative to the project when inside it."""
        if catalog is None:
            why = f"{type(catalog_error).__name__}: {catalog_error}" if catalog_error else "none"
            return cls(None, REPORT_DATASET, f"the project's catalog cannot be opened ({why})")
        config = catalog.to_config()[0].get(REPORT_DATASET)
        filepath = config.get("filepath") if isinstance(config, dict) else None
        if not filepath or "://" in str(filepath):
            return cls(None, REPORT_DATASET, f"the catalog has no local {REPORT_DATASET!r} file")
        path = Path(filepath)
        try:
            shown_as = path.relative_to(Path(project_root).resolve()).as_posix()
        except ValueError:
            shown_as = path.as_posix()
        return cls(path, shown_as)

    def read(self) -> BacktestResponse:
        if self.path is None:
            raise ServiceUnavailable(
                f"backtest report unavailable: {self.problem}", type="backtest_unavailable"
            )
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return BacktestResponse(available=False, message=NO_BACKTEST, folds=[], leaderboard={})
        try:
            report = json.loads(text)
            if not isinstance(report, dict):
                raise ValueError("the report is not a JSON object")
            significance = report.get("significance") or {}
            return BacktestResponse(
                available=True,
                message=None,
                folds=report.get("folds") or [],
                leaderboard=report.get("leaderboard") or {},
                universe=report.get("universe") or [],
                models={
                    name: _model_skill(entry)
                    for name, entry in (report.get("models") or {}).items()
                },
                significance={
                    key: StepSignificance(**value)
                    for key, value in significance.items()
                    if _is_step(key) and isinstance(value, dict)
                },
                significance_level=significance.get("level"),
            )
        except (
            ValueError,
            TypeError,
            AttributeError,
        ) as error:  # half-written or of another shape: say so, rerun fixes it
            logger.warning("backtest report %s is unreadable: %s", self.path, error)
            raise ServiceUnavailable(
                f"backtest report {self.shown_as} is unreadable ({type(error).__name__}): "
                "rerun `make backtest`",
                type="backtest_unreadable",
            ) from error


def _is_step(key: str) -> bool:
    return key.startswith("h") and key[1:].isdigit()


def _model_skill(entry: dict[str, Any]) -> ModelSkill:
    """What the API serves of one model's report entry: seeds, summaries, seed spread, and per
    ticker the coverage by step and each step's tests (not the per-fold figures)."""
    tickers = {
        ticker: TickerSkill(
            coverage_by_step=cells.get("coverage_by_step") or [],
            **{key: StepSkill(**cell) for key, cell in cells.items() if _is_step(key)},
        )
        for ticker, cells in (entry.get("tickers") or {}).items()
    }
    return ModelSkill(
        seeds=entry.get("seeds"),
        summary=entry.get("summary") or {},
        seed_spread=entry.get("seed_spread") or {},
        tickers=tickers,
    )
