"""interval_scope: features -> interval_scope.json, the coverage of each calibration scope
(`training.intervals.scope`: pooled, ticker) on the development period's walk-forward folds
(the tuner's folds, before the backtest's first test fold) and the scope its criterion picks.
Registered, but not in `__default__`: `make interval-scope`."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.pipelines.interval_scope.nodes import compare_interval_scopes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                compare_interval_scopes,
                inputs=["features", "params:tuning", "params:backtest", "params:training"],
                outputs="interval_scope_report",
                name="compare_interval_scopes",
            ),
        ],
        namespace="interval_scope",
        prefix_datasets_with_namespace=False,
    )
