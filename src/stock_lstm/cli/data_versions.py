"""Data versions from the command line (DATABASE_URL picks the database).

    python -m stock_lstm.cli.data_versions list [raw|clean|features]
    python -m stock_lstm.cli.data_versions remove-ticker GOOG

`list` prints each version with what it changed, to pick an id for
``kedro run --load-versions clean_prices:<id>``. `remove-ticker` is the one way to drop a stored
ticker: a new version of every stage that holds it (the older versions keep its rows).
"""

from __future__ import annotations

import argparse
import sys

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import get_database


def _list(stage: str | None) -> None:
    with get_database().session() as session:
        versions = crud.list_versions(session, stage)
    for version in versions:
        change = (
            f"+{version.rows_added} -{version.rows_closed}"
            if version.rows_added is not None
            else "full copy (before migration 0002)"
        )
        print(
            f"{version.id:>6}  {version.stage:<8} {version.created_at:%Y-%m-%d %H:%M}  "
            f"{version.row_count:>9} rows  {change:<14} parent {version.parent_id}  "
            f"{version.source}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stock_lstm.cli.data_versions", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="every data version, oldest first")
    listing.add_argument("stage", nargs="?", choices=crud.STAGES)
    remove = commands.add_parser("remove-ticker", help="remove a ticker from every stage")
    remove.add_argument("ticker")
    args = parser.parse_args(argv)
    if args.command == "list":
        _list(args.stage)
        return 0
    try:
        with get_database().session() as session:
            written = crud.remove_ticker(session, args.ticker)
    except crud.StageError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    for stage, version in written.items():
        print(f"removed {args.ticker.upper()} from {stage}: version {version.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
