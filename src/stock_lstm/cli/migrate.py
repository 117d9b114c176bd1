"""`python -m stock_lstm.cli.migrate upgrade [REVISION]` on DATABASE_URL (or the default)."""

from __future__ import annotations

import argparse

from stock_lstm.common.settings import settings_or_exit
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.migrations import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stock_lstm.cli.migrate", description=__doc__)
    parser.add_argument("action", choices=["upgrade"])
    parser.add_argument("revision", nargs="?", default="head")
    args = parser.parse_args()
    engine = get_database(settings_or_exit().database_url).engine
    upgrade(engine, args.revision)
    print(f"database schema at {args.revision}: {engine.url!r}")


if __name__ == "__main__":
    main()
