"""backtest: features -> walk-forward report (backtest.json, also versioned), leaderboard table,
per-fold ratio plot, and the headline written from the report (headline.md). Registered, but
not in `__default__`: run it with `make backtest` or `kedro run --pipelines backtest`."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.ml_models.common.headline import headline_markdown
from stock_lstm.ml_models.common.plots import plot_fold_ratios
from stock_lstm.ml_models.common.walk_forward import leaderboard_table
from stock_lstm.pipelines import stage_pipeline
from stock_lstm.pipelines.backtest.nodes import archive_report, run_backtest


def create_pipeline(**kwargs) -> Pipeline:
    return stage_pipeline(
        "backtest",
        [
            node(
                run_backtest,
                inputs=["features", "params:backtest", "params:training", "params:ingestion"],
                outputs="backtest_report",
                name="run_backtest",
            ),
            node(
                archive_report,
                inputs="backtest_report",
                outputs="backtest_report_versioned",
                name="archive_backtest_report",
            ),
            node(
                leaderboard_table,
                inputs="backtest_report",
                outputs="backtest_leaderboard",
                name="tabulate_leaderboard",
            ),
            node(
                headline_markdown,
                inputs="backtest_report",
                outputs="backtest_headline",
                name="write_headline",
            ),
            node(
                plot_fold_ratios,
                inputs="backtest_report",
                outputs="backtest_fold_ratios",
                name="plot_fold_ratios",
            ),
        ],
    )
