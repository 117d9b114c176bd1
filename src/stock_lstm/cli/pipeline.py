"""`python -m stock_lstm.cli.pipeline` (`make pipeline`): every pipeline of `kedro run`, but
training and evaluation only when their inputs changed.

1. The data pipelines (ingestion -> cleaning -> feature_engineering).
2. `pipelines.train_once.already_trained`, the one home of the decision (`kedro run`'s default
   runner asks it too): when a registered model version was trained from the newest features
   version, the resolved `training` parameters and the training code (common/fingerprint.py),
   the run stops here: "model X already trained on data version N with these parameters", and
   the registry (the champion) is left as it is.
3. Otherwise, or with `training.force=true` (`make pipeline FORCE=1`), training and evaluation.

Unlike one `kedro run`, the data pipelines and training run in sessions of their own, so a run
that trains nothing opens no MLflow run. Works on the project of STOCK_LSTM_PROJECT_ROOT (else
this checkout), KEDRO_ENV (or --env) and DATABASE_URL.
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
    from kedro.framework.session import KedroSession

    from stock_lstm.pipelines.train_once import already_trained as trained_from_catalog

    with KedroSession.create(project_path=root, env=env, runtime_params=dict(params)) as session:
        return trained_from_catalog(session.load_context().catalog)


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
