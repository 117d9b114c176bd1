"""`python -m stock_lstm.cli.daily` (`make daily`): the daily loop on one machine.

1. `kedro run --pipeline daily`: incremental ingestion -> cleaning -> features -> monitoring.
   With no new bar the data stages store nothing and the monitoring is skipped.
2. Only when that run's monitoring decided to retrain (or the registry has no champion yet):
   the training and evaluation pipelines, with `evaluation.promote=if_better`, so the new
   version is a candidate that becomes champion only if it beats the champion on the newest
   rows, which neither model was fitted or stopped on (ml_models/serving/model_comparison.py).
   The promotion decision and its reason are recorded next to the retrain decision (table
   monitoring_decisions, GET /api/v1/monitoring).

Kedro pipelines are static graphs, so the branch lives here, in a few lines that read the
stored decision. Works on the project of STOCK_LSTM_PROJECT_ROOT (else this checkout),
KEDRO_ENV (or --env) and DATABASE_URL, like every command of the project.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from stock_lstm.common.settings import settings_or_exit
from stock_lstm.common.trading_calendar import next_sessions
from stock_lstm.data_pipeline.catalog import environment_database

if TYPE_CHECKING:
    from stock_lstm.data_pipeline.database import Database

logger = logging.getLogger(__name__)
RETRAIN_PIPELINES = ("training", "evaluation")
PROMOTION_POLICY = "if_better"
# A replay sets the stored history back: it writes under this folder of the project (its
# database, models, reports and MLflow runs), never into the main data folder.
REPLAY_DATA_DIR = Path("data") / "replay"


@dataclass(frozen=True)
class DailyOutcome:
    monitored: bool  # a monitoring run was stored (False: no new bar, or no champion)
    retrain: bool  # training and evaluation ran
    reasons: list[str]  # the retrain decision's reasons (or why nothing was judged)
    promotion: dict[str, Any] | None  # the promotion decision, when a candidate was trained


def parse_params(text: str | None) -> dict[str, Any]:
    """`kedro run --params` syntax (key.sub=value,other=value) as nested runtime parameters;
    values are read as YAML (numbers, booleans, dates stay strings when quoted)."""
    params: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--params item {item!r} is not key=value")
        *parents, leaf = key.strip().split(".")
        node = params
        for name in parents:
            node = node.setdefault(name, {})
        parsed = yaml.safe_load(value)
        node[leaf] = value if not isinstance(parsed, str | int | float | bool) else parsed
    return params


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _run(root: Path, env: str | None, pipeline: str, params: Mapping[str, Any]) -> None:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(root)
    with KedroSession.create(project_path=root, env=env, runtime_params=dict(params)) as session:
        session.run(pipeline_name=pipeline)


def latest_monitoring_run_id(database: Database) -> int | None:
    """The newest stored monitoring run's id, taken before the day's pipeline runs: a newer
    one afterwards means that run monitored the day."""
    from stock_lstm.data_pipeline import crud

    with database.session() as session:
        run = crud.latest_monitoring_run(session)
    return run.id if run is not None else None


def retrain_decision(database: Database, before_run_id: int | None) -> tuple[bool, bool, list[str]]:
    """(monitored, retrain, reasons) once the daily pipeline has run: retrain when the registry
    has no champion yet, else when the day's monitoring run stored a retrain decision."""
    from stock_lstm.data_pipeline import crud

    with database.session() as session:
        after = crud.latest_monitoring_run(session)
        monitored = after is not None and after.id != before_run_id
        if crud.champion_version(session) is None:
            return monitored, True, ["no champion in the registry yet"]
        if not monitored:
            return False, False, ["nothing monitored: no new bar since the last run"]
        decision = next(
            d for d in crud.recent_decisions(session, run_id=after.id) if d["kind"] == "retrain"
        )
    return True, bool(decision["retrain"]), list(decision["reasons"])


def retrain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The retrain's runtime parameters: the day's, with the promotion policy of the loop."""
    return _merged(params, {"evaluation": {"promote": PROMOTION_POLICY}})


def record_promotion(database: Database, reasons: list[str]) -> dict[str, Any]:
    """Store, next to the retrain decision, whether the retrained candidate became champion."""
    from stock_lstm.data_pipeline import crud, model_registry

    with database.session() as session:
        candidate = crud.get_model_version(session)
        verdict = model_registry.promotion_decision(
            PROMOTION_POLICY, candidate.metrics["comparison"], candidate.model_version
        )
        promotion = {
            "kind": "promotion",
            "as_of": max(s.last_date for s in crud.ticker_summaries(session, "features")),
            "model_version": candidate.model_version,
            "promoted": candidate.status == "champion",
            "reasons": [verdict["reason"], *(f"retrained because {r}" for r in reasons)],
        }
        crud.record_decision(session, promotion)
    logger.info("daily: candidate %s %s", candidate.model_version, verdict["reason"])
    return promotion


@contextlib.contextmanager
def replay_environment(root: Path, database_url: str | None = None) -> Iterator[Path]:
    """The process's environment during a replay: everything under <root>/data/replay (the
    database too, unless `database_url` names one), whatever DATA/DATABASE/MLflow variables
    name the main project's. Restored afterwards."""
    folder = root / REPLAY_DATA_DIR
    replay = {
        "STOCK_LSTM_DATA_DIR": str(folder),
        "DATABASE_URL": database_url or f"sqlite:///{folder / 'stock_lstm.db'}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow' / 'mlflow.db'}",
    }
    saved = {name: os.environ.get(name) for name in replay}
    os.environ.update(replay)
    try:
        yield folder
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_daily(
    root: Path, env: str | None = None, params: Mapping[str, Any] | None = None
) -> DailyOutcome:
    """One day of the loop (see the module docstring) on the project at `root`. The Airflow
    daily DAG (deploy/airflow/dag_template.j2) runs the same steps as tasks."""
    from stock_lstm.data_pipeline.database import get_database

    params = dict(params or {})
    database = get_database(environment_database(root, env))
    before = latest_monitoring_run_id(database)
    _run(root, env, "daily", params)
    monitored, retrain, reasons = retrain_decision(database, before)
    logger.info("daily: retrain %s (%s)", retrain, "; ".join(reasons))
    if not retrain:
        return DailyOutcome(monitored, False, reasons, None)
    for pipeline in RETRAIN_PIPELINES:
        _run(root, env, pipeline, retrain_params(params))
    return DailyOutcome(monitored, True, reasons, record_promotion(database, reasons))


def replay_days(start: dt.date, days: int) -> list[dt.date]:
    """The `days` trading sessions from `start` on (a session or not): the exchange calendar's
    (common/trading_calendar.py, XNYS), so a weekend or a market holiday is no replayed day."""
    return next_sessions(start - dt.timedelta(days=1), days)


def _report(outcome: DailyOutcome, day: dt.date | None = None) -> None:
    prefix = f"{day:%Y-%m-%d}  " if day is not None else ""
    print(f"{prefix}monitored: {outcome.monitored}  retrain: {outcome.retrain}")
    for reason in outcome.reasons:
        print(f"    {reason}")
    if outcome.promotion is not None:
        verdict = "promoted" if outcome.promotion["promoted"] else "kept as candidate"
        print(f"    candidate {outcome.promotion['model_version']} {verdict}:")
        print(f"    {outcome.promotion['reasons'][0]}")


def _print_monitoring() -> None:
    """What GET /api/v1/monitoring answers now (the same code builds it)."""
    from stock_lstm.api.v1.services.monitoring import MonitoringReport
    from stock_lstm.data_pipeline.database import get_database

    print(MonitoringReport(get_database()).response().model_dump_json(indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stock_lstm.cli.daily", description=__doc__)
    parser.add_argument("--env", default=None, help="Kedro environment (default: KEDRO_ENV)")
    parser.add_argument("--params", default=None, help="runtime parameters, as `kedro run`")
    parser.add_argument(
        "--replay-from",
        type=dt.date.fromisoformat,
        default=None,
        help="replay the bundled snapshot: ingestion.source=csv, ingestion.end stepped one "
        "trading session (XNYS) at a time from this date, in data/replay/ (its own database, "
        "models, reports and MLflow runs: it sets the stored history back to that date)",
    )
    parser.add_argument("--days", type=int, default=21, help="trading sessions to replay")
    parser.add_argument(
        "--database-url",
        default=None,
        help="the replay's database (default: data/replay/stock_lstm.db; never DATABASE_URL's)",
    )
    args = parser.parse_args(argv)
    settings = settings_or_exit()
    env = args.env or settings.kedro_env
    try:
        params = parse_params(args.params)
    except ValueError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    if args.replay_from is None:
        _report(run_daily(settings.project_root, env, params))
        return 0
    if args.days < 1:
        print(f"Error: --days must be >= 1, got {args.days}", file=sys.stderr)
        return 2
    with replay_environment(settings.project_root, args.database_url) as folder:
        print(f"replaying in {folder}")
        for day in replay_days(args.replay_from, args.days):
            step = _merged(params, {"ingestion": {"source": "csv", "end": f"{day:%Y-%m-%d}"}})
            _report(run_daily(settings.project_root, env, step), day)
        _print_monitoring()
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
