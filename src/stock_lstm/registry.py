"""`python -m stock_lstm.registry list | promote VERSION | rollback`: the model registry from
the command line, with the same checks as the API (POST /api/v1/models/...): a version that is
incomplete or fails its sha256 check is refused. Changes are audited with actor `cli`.

Works on the project of STOCK_LSTM_PROJECT_ROOT (else this checkout), KEDRO_ENV and
DATABASE_URL, like the API; every API worker follows the change within REGISTRY_POLL_SECONDS.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from stock_lstm.common.settings import get_settings, settings_or_exit

ACTOR = "cli"
REGISTRY_DATASET = "model_version_record"


def _registry() -> Any:
    """The registry dataset of the project's catalog (no TensorFlow needed: a serving install
    can promote too)."""
    from stock_lstm.data_pipeline.catalog import open_catalog

    settings = get_settings()
    return open_catalog(settings.project_root, settings.kedro_env)[REGISTRY_DATASET]


def _list(url: str) -> int:
    from stock_lstm.data_pipeline import crud
    from stock_lstm.data_pipeline.database import get_database

    with get_database(url).session() as session:
        versions = crud.list_model_versions(session)
    if not versions:
        print("no model version recorded yet: run `make pipeline`")
        return 0
    for v in versions:
        ratio = (v.metrics.get("summary", {}).get("h1") or {}).get("max_mae_ratio")
        versus = f"h1 MAE / naive {ratio:.4f}" if isinstance(ratio, float) else ""
        print(f"{v.model_version}  {v.status:<9}  trained {v.trained_at:%Y-%m-%d %H:%M}  {versus}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stock_lstm.registry", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every version, newest first, with its status")
    promote = commands.add_parser("promote", help="make VERSION the champion")
    promote.add_argument("version")
    promote.add_argument("--reason", default="promoted by hand")
    commands.add_parser("rollback", help="serve the previous champion again")
    args = parser.parse_args(argv)
    settings = settings_or_exit()

    if args.command == "list":
        return _list(settings.database_url)

    from stock_lstm.data_pipeline import crud
    from stock_lstm.data_pipeline.database import get_database
    from stock_lstm.data_pipeline.datasets import PromotionRefused

    registry = _registry()
    try:
        with get_database(settings.database_url).session() as session:
            if args.command == "promote":
                result = registry.promote(session, args.version, actor=ACTOR, reason=args.reason)
            else:
                result = registry.rollback(session, actor=ACTOR)
    except (crud.UnknownModelVersion, PromotionRefused) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    if result.changed:
        print(f"champion: {result.champion} (was {result.previous})")
    else:
        print(f"champion: {result.champion} (already; nothing changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
