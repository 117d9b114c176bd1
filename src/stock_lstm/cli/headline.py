"""The backtest's headline from its report (`make backtest` writes it too):

    python -m stock_lstm.cli.headline [--report data/08_reporting/backtest.json] [--out FILE]

A model "beats naive" on a ticker only where the Holm-corrected Diebold–Mariano test says so.

    python -m stock_lstm.cli.headline --write-docs [--reports-dir data/08_reporting]

(`make docs-reports`) writes the committed extracts docs/reports/<name>.json of the reports
present (backtest, evaluation, interval_scope, tuning; ml_models/common/report_docs.py) and
docs/reports/headline.md, then renders every generated table of README.md and docs/results.md
again from docs/reports/*.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stock_lstm.ml_models.common.headline import headline_markdown
from stock_lstm.ml_models.common.report_docs import (
    EXTRACTS,
    REPORTS,
    render_blocks,
    report_command,
)

DEFAULT_REPORT = Path("data/08_reporting/backtest.json")
DOCS_REPORTS = Path("docs/reports")
DOCUMENTS = (Path("README.md"), Path("docs/results.md"))  # where generated tables live


def write_docs(reports_dir: Path, docs_dir: Path = DOCS_REPORTS) -> list[Path]:
    """The extracts of the reports present in `reports_dir`, the headline, and every generated
    block of DOCUMENTS rendered from docs_dir's extracts; the files written."""
    written = []
    docs_dir.mkdir(parents=True, exist_ok=True)
    for name, (filename, _) in REPORTS.items():
        path = reports_dir / filename
        if not path.is_file():
            continue
        report = json.loads(path.read_text())
        extract = EXTRACTS[name](report)
        extract["provenance"] = {
            "report": f"<data_dir>/08_reporting/{filename}",
            "by": report_command(name, report),
        }
        target = docs_dir / f"{name}.json"
        target.write_text(json.dumps(extract, indent=1) + "\n")
        written.append(target)
    extracts = {
        name: json.loads((docs_dir / f"{name}.json").read_text())
        for name in REPORTS
        if (docs_dir / f"{name}.json").is_file()
    }
    if "backtest" in extracts:
        (docs_dir / "headline.md").write_text(headline_markdown(extracts["backtest"]))
        written.append(docs_dir / "headline.md")
    for document in DOCUMENTS:
        text = document.read_text()
        rendered = render_blocks(text, extracts)
        if rendered != text:
            document.write_text(rendered)
            written.append(document)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stock_lstm.cli.headline", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="backtest.json")
    parser.add_argument("--out", type=Path, help="write the Markdown here (default: print it)")
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="write docs/reports/*.json from the reports and render the documents' tables",
    )
    parser.add_argument(
        "--reports-dir",
        type=Path,
        default=DEFAULT_REPORT.parent,
        help="where the reports are (with --write-docs)",
    )
    args = parser.parse_args(argv)
    if args.write_docs:
        try:
            written = write_docs(args.reports_dir)
        except (KeyError, json.JSONDecodeError) as error:
            print(f"Error: {error}", file=sys.stderr)
            return 1
        print("\n".join(f"wrote {p}" for p in written) or "nothing to write")
        return 0
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
