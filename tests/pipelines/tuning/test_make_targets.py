"""`make tune` and `make interval-scope` in env "test", made by one Kedro run of both (their
pipelines together: ingestion, cleaning and the features once), each target's outputs checked by
a test of its own: the tuner's report, suggested override and child MLflow runs; the interval
scope's report."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from stock_lstm.data_pipeline.database import dispose_engines
from tests.conftest import environment_parameters, make_project_copy, mlflow_store


@pytest.fixture(scope="module")
def project_copy(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite_template: Path
) -> Iterator[Path]:
    """This module's project copy (on a SQLite database of its own) after one run of
    `kedro run --pipelines ingestion,cleaning,feature_engineering,tuning,interval_scope
    --params tuning.n_trials=2,tuning.folds=1`: what `make tune PARAMS=tuning.n_trials=2,
    tuning.folds=1` and `make interval-scope KEDRO_ARGS="--params tuning.folds=1"` run. Two
    trials on one fold (the defaults and one drawn), and one development fold for the
    interval scopes (the comparison over two is checked in test_interval_scope.py), are what the
    checks below need."""
    root = make_project_copy(tmp_path_factory.mktemp("made") / "project")
    shutil.copy(migrated_sqlite_template, root / "data" / "test.db")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", f"sqlite:///{root / 'data' / 'test.db'}")
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store(root))
        patch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
        patch.chdir(root)
        bootstrap_project(root)
        budget = {"tuning": {"n_trials": 2, "folds": 1}}  # as `kedro run --params` passes them
        with KedroSession.create(project_path=root, env="test", runtime_params=budget) as session:
            session.run(
                pipeline_names=[
                    "ingestion",
                    "cleaning",
                    "feature_engineering",
                    "tuning",
                    "interval_scope",
                ]
            )
    yield root
    dispose_engines()


def test_make_tune_writes_the_override_and_logs_trials_as_child_runs(project_copy: Path) -> None:
    report = json.loads((project_copy / "data" / "08_reporting" / "tuning.json").read_text())
    assert report["n_trials_this_run"] == 2 and report["model_type"] == "lstm"
    assert (project_copy / "data" / "07_model_output" / "optuna.journal").stat().st_size > 0
    tuned = environment_parameters("tuned", project_copy / "conf")
    tested = environment_parameters("test", project_copy / "conf")
    assert tuned["training"]["model"] == {
        **tested["training"]["model"],  # the run's own training block
        **report["best"]["params"],
    }
    assert tuned["training"]["fit"] == tested["training"]["fit"]

    client = mlflow.MlflowClient(tracking_uri=mlflow_store(project_copy))
    experiment = client.get_experiment_by_name("stock_lstm")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert {r.info.run_name for r in children} == {"trial-0", "trial-1"}
    default = next(r for r in children if r.info.run_name == "trial-0")
    assert default.data.metrics["value"] == pytest.approx(report["default"]["value"])
    assert set(default.data.params) == set(report["best"]["params"])
    assert parents[0].data.metrics["tuning_report.best.value"] == pytest.approx(
        report["best"]["value"]
    )
    assert parents[0].data.params["tuning.n_trials"] == "2"


def test_make_interval_scope_writes_the_report(project_copy: Path) -> None:
    path = project_copy / "data" / "08_reporting" / "interval_scope.json"
    report = json.loads(path.read_text())
    assert report["chosen"] in ("pooled", "ticker") and report["model_type"] == "lstm"
    assert report["coverage_band"] == [0.87, 0.93]  # conf/base/parameters_interval_scope.yml
    assert set(report["scopes"]["ticker"]["coverage"]) == {"^GSPC", "GOOG", "MSFT"}
