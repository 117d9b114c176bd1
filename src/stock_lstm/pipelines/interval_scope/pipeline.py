"""interval_scope: features -> interval_scope.json, the coverage of each calibration scope
(`training.intervals.scope`: pooled, ticker) on the development period's walk-forward folds
(the tuner's folds, before the backtest's first test fold) and the scope its criterion picks
(conf/base/parameters_interval_scope.yml: the coverage band).
Registered, but not in `__default__`: `make interval-scope`."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from stock_lstm.pipelines import stage_pipeline
from stock_lstm.pipelines.interval_scope.nodes import compare_interval_scopes
from stock_lstm.pipelines.tuning.pipeline import development_node


def create_pipeline(**kwargs) -> Pipeline:
    return stage_pipeline(
        "interval_scope",
        [
            development_node(
                compare_interval_scopes, "interval_scope_report", "params:interval_scope"
            )
        ],
    )
