"""The project's `kedro run`: Kedro's own command, whose default runner is
`stock_lstm.pipelines.train_once.TrainOnceRunner` instead of `SequentialRunner`, so a run whose
training inputs are unchanged trains and registers nothing (pipelines/train_once.py).
`--runner SequentialRunner` (or any other runner) runs every node as Kedro does."""

from __future__ import annotations

import copy

import click
from kedro.framework.cli.project import run as _kedro_run

DEFAULT_RUNNER = "stock_lstm.pipelines.train_once.TrainOnceRunner"


def _with_default_runner(command: click.Command, runner: str) -> click.Command:
    changed = copy.copy(command)
    changed.params = [copy.copy(param) for param in command.params]
    for param in changed.params:
        if param.name == "runner":
            param.default = runner
            param.show_default = True
            param.help = (
                f"{param.help} Default: {runner.rsplit('.', 1)[-1]} (the pipeline's nodes in "
                "order, training only when its inputs changed)."
            )
    return changed


run = _with_default_runner(_kedro_run, DEFAULT_RUNNER)
