"""`python -m stock_lstm.cli.registry list | promote VERSION | rollback`: the model registry from
the command line, with the same checks as the API (POST /api/v1/models/...): a version that is
incomplete, fails its sha256 check or does not load (ONNX session, scaler, calibration, one
forecast) is refused. Changes are audited with actor `cli`.

Works on the project of STOCK_LSTM_PROJECT_ROOT (else this checkout), KEDRO_ENV and
DATABASE_URL, like the API; every API worker follows the change within REGISTRY_POLL_SECONDS.
"""

from __future__ import annotations

import argparse
import sys

from stock_lstm.common.settings import settings_or_exit
from stock_lstm.data_pipeline import crud, model_registry
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.ml_models.serving.onnx_forecaster import forecaster_from_files

ACTOR = "cli"


def _list(url: str) -> int:
    with get_database(url).session() as session:
        versions = crud.list_model_versions(session)
    if not versions:
        print("no model version recorded yet: run `make pipeline`")
        return 0
    for v in versions:
        ratio = (v.metrics.get("summary", {}).get("h1") or {}).get("max_mae_ratio")
        versus = f"worst ticker's h1 MAE / naive {ratio:.4f}" if isinstance(ratio, float) else ""
        print(f"{v.model_version}  {v.status:<9}  trained {v.trained_at:%Y-%m-%d %H:%M}  {versus}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stock_lstm.cli.registry", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every version, newest first, with its status")
    promote = commands.add_parser("promote", help="make VERSION the champion")
    promote.add_argument("version")
    promote.add_argument("--reason", default="promoted by hand")
    commands.add_parser(
        "rollback",
        help="serve the champion before this one again (repeated: further back)",
    )
    args = parser.parse_args(argv)
    settings = settings_or_exit()

    if args.command == "list":
        return _list(settings.database_url)

    # The paths of the files a version serves, from the catalog's configuration (no dataset is
    # created and no TensorFlow imported: a serving install can promote too); a version is
    # loaded by the API's own ONNX forecaster before it is promoted.
    files = model_registry.serving_filepaths(settings.project_root, settings.kedro_env)
    try:
        with get_database(settings.database_url).session() as session:
            if args.command == "promote":
                result = model_registry.promote(
                    session,
                    args.version,
                    files,
                    actor=ACTOR,
                    reason=args.reason,
                    load_check=forecaster_from_files,
                )
            else:
                result = model_registry.rollback(
                    session, files, actor=ACTOR, load_check=forecaster_from_files
                )
    except (crud.UnknownModelVersion, model_registry.PromotionRefused) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    if result.changed:
        print(f"champion: {result.champion} (was {result.previous})")
    else:
        print(f"champion: {result.champion} (already; nothing changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
