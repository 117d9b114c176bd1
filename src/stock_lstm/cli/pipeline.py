"""`python -m stock_lstm.cli.pipeline` (`make pipeline`): every pipeline of `kedro run`, but
training and evaluation only when their inputs changed.

1. The data pipelines (ingestion -> cleaning -> feature_engineering).
2. The fingerprint of what training would read (the newest features version, the resolved
   `training` parameters, the training code: common/fingerprint.py). When a registered model
   version has it, the run stops here: "model X already trained on data version N with these
   parameters", and the registry (the champion) is left as it is.
3. Otherwise, or with `training.force=true` (`make pipeline FORCE=1`), training and evaluation.

Kedro pipelines are static graphs, so the skip lives here, in plumbing that reads the registry,
not in the pure nodes. A bare `kedro run` always trains. Works on the project of
STOCK_LSTM_PROJECT_ROOT (else this checkout), KEDRO_ENV (or --env) and DATABASE_URL.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stock_lstm.cli.daily import parse_params
from stock_lstm.common.settings import settings_or_exit
from stock_lstm.data_pipeline.catalog import environment_database

logger = logging.getLogger(__name__)
DATA_PIPELINES = ("ingestion", "cleaning", "feature_engineering")
TRAINING_PIPELINES = ("training", "evaluation")


@dataclass(frozen=True)
class PipelineOutcome:
    trained: bool  # training and evaluation ran
    message: str  # why (or why not)


def training_inputs(root: Path, env: str | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """The `training` parameters a `kedro run` with these runtime parameters would use."""
    from kedro.framework.session import KedroSession

    with KedroSession.create(project_path=root, env=env, runtime_params=dict(params)) as session:
        return dict(session.load_context().params["training"])


def _run(root: Path, env: str | None, pipelines: tuple[str, ...], params: Mapping[str, Any]):
    from kedro.framework.session import KedroSession

    with KedroSession.create(project_path=root, env=env, runtime_params=dict(params)) as session:
        session.run(pipeline_names=list(pipelines))


def already_trained(root: Path, env: str | None, params: Mapping[str, Any]) -> str | None:
    """ "model X already trained on data version N with these parameters", or None when no
    registered version was trained from what training would read now (or it is forced)."""
    from stock_lstm.common.fingerprint import training_fingerprint
    from stock_lstm.data_pipeline import crud
    from stock_lstm.data_pipeline.database import get_database

    training = training_inputs(root, env, params)
    if bool(training.get("force")):
        return None
    with get_database(environment_database(root, env)).session() as session:
        features = crud.latest_version(session, "features")
        if features is None:
            return None
        found = crud.model_version_trained_from(
            session, training_fingerprint(features.id, training)
        )
    if found is None:
        return None
    return (
        f"model {found.model_version} already trained on data version {features.id} with these "
        "parameters (and this code): nothing to train; the registry is left as it is "
        "(--params training.force=true, make pipeline FORCE=1, trains again)"
    )


def run_pipeline(
    root: Path, env: str | None = None, params: Mapping[str, Any] | None = None
) -> PipelineOutcome:
    """The data pipelines, then training and evaluation unless their inputs are unchanged."""
    from kedro.framework.startup import bootstrap_project

    params = dict(params or {})
    bootstrap_project(root)
    _run(root, env, DATA_PIPELINES, params)
    message = already_trained(root, env, params)
    if message is not None:
        logger.info(message)
        return PipelineOutcome(False, message)
    _run(root, env, TRAINING_PIPELINES, params)
    return PipelineOutcome(True, "trained and evaluated")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stock_lstm.cli.pipeline", description=__doc__)
    parser.add_argument("--env", default=None, help="Kedro environment (default: KEDRO_ENV)")
    parser.add_argument(
        "--params",
        action="append",
        default=[],
        help="runtime parameters, as `kedro run` (may repeat)",
    )
    args = parser.parse_args(argv)
    settings = settings_or_exit()
    try:
        params = parse_params(",".join(args.params))
    except ValueError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    outcome = run_pipeline(settings.project_root, args.env or settings.kedro_env, params)
    print(outcome.message)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
