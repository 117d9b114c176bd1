"""Experiment tracking: a tiny `kedro run` logs one MLflow run with the parameters, data versions,
per-epoch losses, report metrics and artifacts, and the model_versions row links to it."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import click
import mlflow
import pytest
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from stock_lstm.common.settings import (
    mlflow_artifact_location,
    mlflow_run_url,
    mlflow_tracking_uri,
)
from stock_lstm.hooks.tracking import flatten_metrics, metric_key
from tests.conftest import PROJECT_ROOT, TrainedProject, copy_trained_project, mlflow_store
from tests.helpers.database import crud_on


def test_report_numbers_become_metric_names_at_any_depth() -> None:
    report = {
        "tickers": {"^GSPC": {"h1": {"mae": 1.5, "n": 3, "kept": True, "note": "x"}}},
        "folds": [{"mae": 0.5}, {"mae": math.nan}],
        "loss": [0.3, 0.2, 0.25],
        "empty": [],
    }

    scalars, series = flatten_metrics(report, "evaluation_report")

    assert scalars == {
        "evaluation_report.tickers._GSPC.h1.mae": 1.5,
        "evaluation_report.tickers._GSPC.h1.n": 3.0,
        "evaluation_report.folds.0.mae": 0.5,
    }
    assert series == {"evaluation_report.loss": [0.3, 0.2, 0.25]}
    assert metric_key("a b", "c/d", "e:f", "g(h)") == "a b.c/d.e_f.g_h_"


def test_tracking_store_defaults_to_a_local_sqlite_file_and_follows_the_environment(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    local = mlflow_tracking_uri(tmp_path)
    assert local == f"sqlite:///{tmp_path / 'data' / 'mlflow' / 'mlflow.db'}"
    assert mlflow_artifact_location(local) == str(tmp_path / "data" / "mlflow" / "artifacts")

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000/")
    server = mlflow_tracking_uri(tmp_path)
    assert server == "http://mlflow.example:5000/"
    assert mlflow_artifact_location(server) is None  # the server keeps its artifacts
    assert mlflow_run_url(server, "abc123") == "http://mlflow.example:5000/#/runs/abc123"
    assert mlflow_run_url(local, "abc123") is None
    assert mlflow_run_url(server, None) is None


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _only_run(store: str):
    client = mlflow.MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("stock_lstm")
    assert experiment is not None, f"no stock_lstm experiment in {store}"
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return client, runs[0]


def test_a_training_run_logs_one_mlflow_run(trained_project: TrainedProject, tmp_path) -> None:
    root, url = trained_project.root, trained_project.database_url
    store = mlflow_store(root)
    client, run = _only_run(store)
    row = crud_on(url).get_model_version()
    report = json.loads((root / "data/08_reporting/evaluation.json").read_text())
    history = json.loads(
        (
            root
            / "data/06_models/training_history.json"
            / row.model_version
            / "training_history.json"
        ).read_text()
    )

    assert run.info.status == "FINISHED"
    assert mlflow.active_run() is None  # ended: a later session cannot log into it
    assert row.mlflow_run_id == run.info.run_id
    assert run.data.tags["model_version"] == row.model_version
    # the store is the project copy's, never the real project's
    assert run.info.artifact_uri.startswith(f"file://{root}/data/mlflow/artifacts/")
    assert not str(root).startswith(str(PROJECT_ROOT))

    # parameters of every pipeline that ran, flattened; the data versions and their hashes
    params = run.data.params
    bootstrap_project(root)
    with KedroSession.create(project_path=root, env="test") as session:
        every_parameter = _flatten(session.load_context().params)
    # what the default pipeline's nodes read (not backtest's or monitoring's, which did not run)
    read = [
        i.split(":", 1)[1] for i in pipelines["__default__"].inputs() if i.startswith("params:")
    ]
    configured = {
        key: value
        for key, value in every_parameter.items()
        if any(key == name or key.startswith(f"{name}.") for name in read)
    }
    assert {"training.model.window", "evaluation.promote"} <= set(configured)
    assert set(configured) <= set(params), set(configured) - set(params)
    assert {k: params[k] for k in configured} == {k: str(v) for k, v in configured.items()}
    assert params["training.model.window"] == "10"  # conf/test, not conf/base
    features = crud_on(url).get_version(row.data_version_id)
    assert params["data.features.version_id"] == str(features.id)
    assert params["data.features.content_hash"] == features.content_hash
    assert {"data.raw_prices.content_hash", "data.clean_prices.content_hash"} <= set(params)

    # per-epoch training and validation loss, at steps 1..epochs
    for key in ("loss", "val_loss"):
        logged = client.get_metric_history(run.info.run_id, f"training_history.{key}")
        assert [(m.step, m.value) for m in sorted(logged, key=lambda m: m.step)] == [
            pytest.approx((step, value)) for step, value in enumerate(history[key], start=1)
        ]
    # the evaluation report's numbers, LSTM next to the naive baseline, per ticker and step
    metrics = run.data.metrics
    msft = report["tickers"]["MSFT"]["h1"]
    assert metrics["evaluation_report.tickers.MSFT.h1.mae_ratio"] == pytest.approx(
        msft["mae_ratio"]
    )
    assert metrics["evaluation_report.tickers.MSFT.h1.naive.mae"] == pytest.approx(
        msft["naive"]["mae"]
    )
    assert "evaluation_report.tickers._GSPC.h1.lstm.mae" in metrics

    # the artifacts every dataset saved, the model byte for byte
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {
        "lstm_model",
        "scaler",
        "interval_calibration",
        "training_history",
        "evaluation_report",
        "backtest_plots",
        "backtest_overview",
    } <= logged
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "backtest_plots")}
    assert plots == {
        "backtest_plots/GOOG.png",
        "backtest_plots/GSPC.png",
        "backtest_plots/MSFT.png",
    }
    model = Path(client.download_artifacts(run.info.run_id, "lstm_model", str(tmp_path)))
    digest = hashlib.sha256((model / "lstm_model.keras").read_bytes()).hexdigest()
    assert digest == row.model_sha256


def test_runs_that_train_nothing_open_no_tracking_store(project_copy: Path) -> None:
    bootstrap_project(project_copy)
    with KedroSession.create(project_path=project_copy, env="test") as session:
        session.run(pipeline_names=["ingestion", "cleaning"])

    assert crud_on().latest_version("clean") is not None
    assert not (project_copy / "data" / "mlflow").exists()


def test_kedro_mlflow_commands_find_the_project_store(
    trained_project: TrainedProject, monkeypatch
) -> None:
    """`kedro mlflow ui` reads the store from the configuration kedro-mlflow puts on the
    context; other sessions (the API's) never set MLflow up."""
    root = trained_project.root
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store(root))
    bootstrap_project(root)
    with KedroSession.create(project_path=root, env="test") as session:
        assert not hasattr(session.load_context(), "mlflow")

    kedro = click.Context(click.Group("kedro"), info_name="kedro")
    group = click.Context(click.Group("mlflow"), parent=kedro, info_name="mlflow")
    with click.Context(click.Command("ui"), parent=group, info_name="ui"):
        with KedroSession.create(project_path=root, env="test") as session:
            context = session.load_context()
    assert context.mlflow.server.mlflow_tracking_uri == mlflow_store(root)
    assert context.mlflow.tracking.experiment.name == "stock_lstm"


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")} if folder.exists() else set()


def test_a_copied_project_logs_its_artifacts_into_itself(
    trained_project: TrainedProject, tmp_path, monkeypatch
) -> None:
    """MLflow stores an experiment's artifact root as an absolute file:// URI in its database:
    a copy (or a container, or a moved checkout) must still write into itself, and its copied
    runs' artifacts must be read from the copy."""
    original = trained_project.root / "data" / "mlflow" / "artifacts"
    before = _files(original)
    copy = copy_trained_project(trained_project, tmp_path / "copy")
    monkeypatch.setenv("DATABASE_URL", copy.database_url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store(copy.root))
    monkeypatch.setenv("STOCK_LSTM_PROJECT_ROOT", str(copy.root))
    monkeypatch.chdir(copy.root)
    bootstrap_project(copy.root)
    with KedroSession.create(project_path=copy.root, env="test") as session:
        session.run(pipeline_names=["evaluation"])

    client = mlflow.MlflowClient(tracking_uri=mlflow_store(copy.root))
    experiment = client.get_experiment_by_name("stock_lstm")
    root = f"file://{copy.root}/data/mlflow/artifacts"
    assert experiment.artifact_location == root
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    assert len(runs) == 2  # the copied training run and the copy's own evaluation run
    assert all(run.info.artifact_uri.startswith(f"{root}/") for run in runs)
    own = Path(runs[0].info.artifact_uri.removeprefix("file://"))
    assert (own / "evaluation_report").is_dir()
    assert _files(original) == before  # nothing written into the original checkout
    copied = {a.path for a in client.list_artifacts(runs[1].info.run_id)}
    assert "lstm_model" in copied  # the copied run's artifacts, read from the copy
