"""tuning: features -> Optuna study (stored, resumable) -> suggested training override
(conf/tuned/parameters_training.yml) and report (tuning.json). Registered, but not in
`__default__`: run it with `make tune` or `kedro run --pipeline tuning`."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.pipelines.tuning.nodes import run_tuning, suggested_override


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                run_tuning,
                inputs=["features", "params:tuning", "params:backtest", "params:training"],
                outputs="tuning_report",
                name="run_tuning",
            ),
            node(
                suggested_override,
                inputs=["tuning_report", "params:training"],
                outputs="tuned_training_parameters",
                name="write_tuned_parameters",
            ),
        ],
        namespace="tuning",
        prefix_datasets_with_namespace=False,
    )
