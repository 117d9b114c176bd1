"""`make airflow-test`: the project's Airflow DAGs run for real, then their outcome is checked.

Run with the Airflow environment's Python (.venv-airflow, constraints-airflow.txt), from the
project root:

1. a fresh PostgreSQL database for the project's data (AIRFLOW_TEST_DATABASE_URL, default
   postgresql+psycopg://postgres@127.0.0.1:5432/airflow_data: dropped and created again), and a
   worker's project folder (conf + the bundled snapshot) under AIRFLOW_TEST_DIR;
2. `kedro airflow create --jinja-file deploy/airflow/dag_template.j2 --group-by namespace
   --env test --pipelines __default__,daily`: the full DAG and the daily DAG;
3. an Airflow home with a SQLite metadata database (`airflow db migrate`) and the project's
   database as the Airflow connection `stock_lstm_database` (DATABASE_URL is unset, so the tasks
   can only find it there); every DAG file imports without error and has the ids, the retrain
   branch, the retries and the timeouts of conf/base/airflow.yml;
4. `airflow dags test stock-lstm-test` (the whole pipeline on the tiny test parameters), then
   `airflow dags test stock-lstm-test-daily` for two replayed days: 2013-03-04 as the stored
   decision has it, 2013-03-05 with drift thresholds of 0 (every feature drifts), so the
   retrain branch runs too;
5. the outcome: every task of every run succeeded (or, on a day without a retrain, the retrain
   tasks were skipped by the branch), the data versions, the champion model version, both
   days' monitoring runs and the promotion decision are in PostgreSQL.

Exits non-zero naming the first check that failed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import yaml
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "airflow" / "dag_template.j2"
ENV = "test"
FULL_DAG, DAILY_DAG = "stock-lstm-test", "stock-lstm-test-daily"
CONN_ID = "stock_lstm_database"
DEFAULT_DATA_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/airflow_data"
# The replayed days: the test environment's data end on 2013-03-01 (a Friday).
DAYS = (
    ("2013-03-04", "ingestion.end=2013-03-04"),
    # drift thresholds of 0: every feature drifts, so the stored decision is a retrain
    (
        "2013-03-05",
        "ingestion.end=2013-03-05,monitoring.drift.ks_threshold=0,monitoring.drift.psi_threshold=0",
    ),
)
STAGE_TABLES = ("raw", "clean", "features")
RETRAIN_TASKS = frozenset({"training", "evaluation", "record-promotion"})


class CheckFailed(RuntimeError):
    """An outcome that is not what the DAGs should have produced."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)
    print(f"  ok: {message}")


def reset_database(url: str) -> None:
    """Drop and create the database of `url` (on its server's `postgres` database)."""
    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        raise SystemExit(f"AIRFLOW_TEST_DATABASE_URL must be PostgreSQL, got {target.drivername}")
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


def make_worker_project(folder: Path) -> Path:
    """What a worker holds: the configuration and the bundled snapshot (the package itself is
    installed in the environment)."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    (folder / "conf" / "local").mkdir()
    shutil.copytree(ROOT / "data" / "01_raw", folder / "data" / "01_raw")
    return folder


def airflow_connection(url: str) -> str:
    """The Airflow connection (JSON form of AIRFLOW_CONN_<ID>) a user would create for `url`."""
    parsed = make_url(url)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": parsed.host,
            "port": parsed.port,
            "login": parsed.username,
            "password": parsed.password,
            "schema": parsed.database,
        }
    )


def environment(work: Path, project: Path, data_url: str) -> dict[str, str]:
    home = work / "airflow-home"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(work / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        f"AIRFLOW_CONN_{CONN_ID.upper()}": airflow_connection(data_url),
        "STOCK_LSTM_PROJECT_ROOT": str(project),
        "KEDRO_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "COLUMNS": "160",  # Kedro's rich log lines unwrapped
        "PYTHONWARNINGS": "ignore::UserWarning:mlflow.pyfunc.utils.data_validation",
    }
    for name in ("DATABASE_URL", "MLFLOW_TRACKING_URI", "KEDRO_ENV"):
        env.pop(name, None)  # the connection and the project folder decide, nothing inherited
    return env


def run(command: list[str], env: Mapping[str, str], cwd: Path = ROOT) -> float:
    """Run `command`, streaming its output; its duration in seconds."""
    print(f"$ {' '.join(command)}", flush=True)
    started = time.monotonic()
    completed = subprocess.run(command, env=dict(env), cwd=cwd, check=False)
    if completed.returncode != 0:
        raise CheckFailed(f"`{' '.join(command[:4])} ...` exited with {completed.returncode}")
    return time.monotonic() - started


def check_dag_files(dags: Path, env: Mapping[str, str]) -> None:
    """Import the generated DAG files as the scheduler would, in a process with the Airflow
    environment, and check what a deployment relies on."""
    config = yaml.safe_load((ROOT / "conf" / "base" / "airflow.yml").read_text())
    completed = subprocess.run(
        [sys.executable, "-c", _DAGBAG_REPORT, str(dags)],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise CheckFailed(f"the DAG files do not import:\n{completed.stderr[-3000:]}")
    report = json.loads(completed.stdout.splitlines()[-1])
    _check(report["errors"] == {}, f"every DAG file imports ({sorted(report['dags'])})")
    _check(set(report["dags"]) == {FULL_DAG, DAILY_DAG}, "distinct dag_ids for full and daily")
    full, daily = report["dags"][FULL_DAG], report["dags"][DAILY_DAG]
    _check(
        full["tasks"]["training"]["downstream"] == ["evaluation"],
        "the full DAG: training >> evaluation",
    )
    branch = daily["tasks"].get("retrain-decision", {})
    _check(
        branch.get("branch") is True
        and branch.get("upstream") == ["monitoring", "monitoring-baseline"]
        and branch.get("downstream") == ["training"],
        "the daily DAG: monitoring >> retrain-decision (a BranchPythonOperator) >> training",
    )
    _check(
        daily["tasks"]["evaluation"]["downstream"] == ["record-promotion"],
        "the daily DAG: evaluation >> record-promotion",
    )
    default = config["default"]
    timeouts = default["task_timeout_minutes_by_task"]
    for dag_id, dag in report["dags"].items():
        for task_id, task in dag["tasks"].items():
            expected = timeouts.get(task_id, default["task_timeout_minutes"]) * 60
            if task["retries"] != default["retries"] or task["timeout_s"] != expected:
                raise CheckFailed(
                    f"{dag_id}.{task_id}: retries/timeout {task} not from airflow.yml"
                )
    _check(True, "every task's retries and execution_timeout come from conf/base/airflow.yml")
    _check(daily["schedule"] == config["daily"]["schedule"], "the daily DAG's schedule")


# Runs inside the Airflow environment: DagBag parses the folder as the DAG processor does.
_DAGBAG_REPORT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
def task(t):
    return {"branch": any(c.__name__ == "BranchPythonOperator" for c in type(t).__mro__),
            "retries": t.retries,
            "timeout_s": t.execution_timeout.total_seconds() if t.execution_timeout else None,
            "upstream": sorted(t.upstream_task_ids), "downstream": sorted(t.downstream_task_ids)}
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {i: {"schedule": getattr(d.timetable, "expression", None),
                 "tasks": {t.task_id: task(t) for t in d.tasks}} for i, d in bag.dags.items()}}))
"""


def task_states(metadata_url: str, dag_id: str) -> tuple[str, dict[str, str]]:
    """The newest run of `dag_id` in the Airflow metadata database: its state and its tasks'."""
    engine = create_engine(metadata_url)
    with engine.connect() as connection:
        run_id, state = connection.execute(
            text("SELECT run_id, state FROM dag_run WHERE dag_id = :d ORDER BY id DESC LIMIT 1"),
            {"d": dag_id},
        ).one()
        rows = connection.execute(
            text("SELECT task_id, state FROM task_instance WHERE dag_id = :d AND run_id = :r"),
            {"d": dag_id, "r": run_id},
        ).all()
    engine.dispose()
    return state, {task_id: task_state for task_id, task_state in rows}


def check_run(metadata_url: str, dag_id: str, skipped: frozenset[str] = frozenset()) -> None:
    state, tasks = task_states(metadata_url, dag_id)
    print(f"  {dag_id}: run {state}; " + ", ".join(f"{t} {s}" for t, s in sorted(tasks.items())))
    _check(state == "success", f"{dag_id}: the DAG run succeeded")
    expected = {t: "skipped" if t in skipped else "success" for t in tasks}
    skip_note = f" ({', '.join(sorted(skipped))} skipped by the branch)" if skipped else ""
    _check(tasks == expected, f"{dag_id}: every task succeeded{skip_note}")


def check_project_database(data_url: str) -> None:
    """What the DAGs must have stored, read with the project's own code."""
    from stock_lstm.data_pipeline import crud
    from stock_lstm.data_pipeline.database import get_database

    with get_database(data_url).session() as session:
        stages = {v.stage for v in crud.list_versions(session)}
        _check(set(STAGE_TABLES) <= stages, f"data versions stored for {sorted(stages)}")
        models = [m.model_version for m in crud.list_model_versions(session)]
        champion = crud.champion_version(session)
        _check(champion is not None, f"model versions {models}, champion {champion}")
        decisions = crud.recent_decisions(session, limit=50)
    promotions = [d for d in decisions if d["kind"] == "promotion"]
    _check(bool(promotions), f"the retrain's promotion decision is stored: {promotions[:1]}")


def replay_day(
    data_url: str, command: list[str], env: Mapping[str, str], cwd: Path
) -> tuple[float, bool]:
    """One daily DAG run; checks that it stored a monitoring run, and which branch it took."""
    from stock_lstm.cli.daily import latest_monitoring_run_id, retrain_decision
    from stock_lstm.data_pipeline.database import get_database

    database = get_database(data_url)
    before = latest_monitoring_run_id(database)
    seconds = run(command, env, cwd)
    monitored, retrain, reasons = retrain_decision(database, before)
    _check(monitored, f"a monitoring run was stored (retrain: {retrain}, {'; '.join(reasons)})")
    return seconds, retrain


def main() -> int:
    work = Path(os.environ.get("AIRFLOW_TEST_DIR") or ROOT / "build" / "airflow-test").resolve()
    data_url = os.environ.get("AIRFLOW_TEST_DATABASE_URL") or DEFAULT_DATA_URL
    bin_dir = Path(sys.executable).parent
    timings: dict[str, float] = {}
    started = time.monotonic()
    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        reset_database(data_url)
        project = make_worker_project(work / "project")
        env = environment(work, project, data_url)
        timings["kedro airflow create"] = run(
            [str(bin_dir / "kedro"), "airflow", "create", "--jinja-file", str(TEMPLATE)]
            + ["--group-by", "namespace", "--env", ENV, "--pipelines", "__default__,daily"]
            + ["--target-dir", str(work / "dags")],
            env,
        )
        timings["airflow db migrate"] = run([str(bin_dir / "airflow"), "db", "migrate"], env)
        print("The generated DAGs:")
        check_dag_files(work / "dags", env)
        metadata_url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        airflow = str(bin_dir / "airflow")

        timings[f"dags test {FULL_DAG}"] = run([airflow, "dags", "test", FULL_DAG], env, project)
        check_run(metadata_url, FULL_DAG)
        branches: set[bool] = set()
        for day, params in DAYS:
            conf = json.dumps({"kedro_params": params})
            print(f"Replayed day {day}:")
            seconds, retrained = replay_day(
                data_url, [airflow, "dags", "test", DAILY_DAG, "--conf", conf], env, project
            )
            timings[f"dags test {DAILY_DAG} ({day})"] = seconds
            check_run(metadata_url, DAILY_DAG, frozenset() if retrained else RETRAIN_TASKS)
            branches.add(retrained)
        _check(branches == {False, True}, "the daily DAG took both branches on the two days")
        print("The project's database:")
        check_project_database(data_url)
    except CheckFailed as failure:
        print(f"airflow-test FAILED: {failure}", file=sys.stderr)
        return 1
    print("Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    elapsed = time.monotonic() - started
    print(f"airflow-test passed in {elapsed:.0f} s ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
