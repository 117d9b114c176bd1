"""Command-line tools: every `python -m stock_lstm.cli.<tool>` lives here, and the project's
`kedro run` (cli/kedro_run.py)."""

from __future__ import annotations

import importlib
from typing import Any

import click

# The commands of the `cli` group, by name, and where each lives: imported only when run
# (importing Kedro's command-line code sets Kedro's logging up, which `python -m
# stock_lstm.cli.<tool>` must not pay for).
_COMMANDS = {"run": "stock_lstm.cli.kedro_run"}


class _ProjectCommands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        return importlib.import_module(_COMMANDS[cmd_name]).run


# Kedro loads `<package>.cli` for project commands: they override Kedro's own of the same name
# (https://docs.kedro.org/en/stable/extend/common_use_cases/). `python -m stock_lstm` runs
# this module's `run`.
@click.group(name="stock-lstm", cls=_ProjectCommands)
def cli() -> None:
    """Project-specific Kedro commands: `kedro run` (training only when its inputs changed)."""


def __getattr__(name: str) -> Any:
    if name in _COMMANDS:
        return importlib.import_module(_COMMANDS[name]).run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
