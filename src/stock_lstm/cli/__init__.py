"""Command-line tools: every `python -m stock_lstm.cli.<tool>` lives here."""

import click


# Kedro loads `<package>.cli` for project commands and stops every `kedro` command when that
# module has no `cli` group: the project adds none, so the group is empty.
@click.group(name="stock-lstm")
def cli() -> None:
    """Project-specific Kedro commands (none)."""
