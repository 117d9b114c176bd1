"""tuning: features -> Optuna study (stored, resumable) -> suggested training override
(conf/tuned/parameters_training.yml) and report (tuning.json). Registered, but not in
`__default__`: run it with `make tune` or `kedro run --pipeline tuning`."""

from __future__ import annotations

from collections.abc import Callable

from kedro.pipeline import Node, Pipeline, node

from stock_lstm.pipelines import stage_pipeline
from stock_lstm.pipelines.tuning.nodes import run_tuning, suggested_override


def development_node(func: Callable[..., object], output: str, *more: str) -> Node:
    """A node named after `func` that judges on the development period, as the tuner does:
    it reads the features and the tuning, backtest and training parameters (then `more`)."""
    return node(
        func,
        inputs=["features", "params:tuning", "params:backtest", "params:training", *more],
        outputs=output,
        name=func.__name__,
    )


def create_pipeline(**kwargs) -> Pipeline:
    return stage_pipeline(
        "tuning",
        [
            development_node(run_tuning, "tuning_report"),
            node(
                suggested_override,
                inputs=["tuning_report", "params:training"],
                outputs="tuned_training_parameters",
                name="write_tuned_parameters",
            ),
        ],
    )
