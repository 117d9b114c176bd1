"""The backtest's headline from its report (`make backtest` writes it too):

    python -m stock_lstm.cli.headline [--report data/08_reporting/backtest.json] [--out FILE]

A model "beats naive" on a ticker only where the Holm-corrected Diebold–Mariano test says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stock_lstm.ml_models.common.headline import headline_markdown

DEFAULT_REPORT = Path("data/08_reporting/backtest.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stock_lstm.cli.headline", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="backtest.json")
    parser.add_argument("--out", type=Path, help="write the Markdown here (default: print it)")
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.report.read_text())
    except FileNotFoundError:
        print(f"Error: no backtest report at {args.report}: run `make backtest`", file=sys.stderr)
        return 1
    except json.JSONDecodeError as error:
        print(f"Error: {args.report} is not JSON ({error})", file=sys.stderr)
        return 1
    if "significance" not in report:
        print(
            f"Error: {args.report} has no significance tests (written by an older backtest): "
            "run `make backtest` again",
            file=sys.stderr,
        )
        return 1
    text = headline_markdown(report)
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
