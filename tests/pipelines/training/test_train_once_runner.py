"""TrainOnceRunner on an in-memory pipeline: the nodes before training always run; training and
what follows it run unless a registered version was trained from the same fingerprint (features
version, training parameters, code), or `training.force` is set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node

from stock_lstm.common.fingerprint import training_fingerprint
from stock_lstm.data_pipeline.datasets import ModelVersionDataset, VersionedTableDataset
from stock_lstm.pipelines.train_once import TrainOnceRunner, training_part
from tests.helpers.database import crud_on

FEATURES_VERSION = 7
TRAINING = {"model": {"window": 5}, "fit": {"seed": 1}, "force": False}


def _pipeline(ran: list[str]) -> Pipeline:
    def step(name: str):
        def run(*_: object) -> str:
            ran.append(name)
            return name

        return run

    return Pipeline(
        [
            Pipeline(
                [node(step("ingest"), None, "raw", name="ingest")],
                namespace="ingestion",
                prefix_datasets_with_namespace=False,
            ),
            Pipeline(
                [node(step("train"), ["raw", "params:training"], "model", name="train")],
                namespace="training",
                prefix_datasets_with_namespace=False,
            ),
            Pipeline(
                [node(step("evaluate"), "model", "report", name="evaluate")],
                namespace="evaluation",
                prefix_datasets_with_namespace=False,
            ),
        ]
    )


def _run(url: str, training: dict) -> tuple[list[str], str | None]:
    ran: list[str] = []
    catalog = DataCatalog(
        {
            "features": VersionedTableDataset(
                stage="features", url=url, version_id=FEATURES_VERSION
            ),
            "model_version_record": ModelVersionDataset(
                model_filepath="unused", scaler_filepath="unused", url=url
            ),
            "params:training": MemoryDataset(training),
        }
    )
    runner = TrainOnceRunner()
    runner.run(_pipeline(ran), catalog)
    return ran, runner.skipped


def _register(url: str, fingerprint: str) -> None:
    crud_on(url).record_model_version(
        model_version="v1",
        trained_at=datetime(2024, 1, 2, tzinfo=UTC),
        data_version_id=None,
        parameters=TRAINING,
        metrics={"mae": 1.0},
        model_sha256="0" * 64,
        scaler_sha256="1" * 64,
        training_fingerprint=fingerprint,
    )


def test_training_part_is_training_and_what_follows() -> None:
    names = {n.name for n in training_part(_pipeline([])).nodes}
    assert names == {"training.train", "evaluation.evaluate"}
    assert training_part(_pipeline([]).only_nodes("ingestion.ingest")).nodes == []


def test_nothing_registered_runs_every_node(sqlite_url: str) -> None:
    assert _run(sqlite_url, TRAINING) == (["ingest", "train", "evaluate"], None)


def test_the_same_inputs_skip_training_and_evaluation(sqlite_url: str) -> None:
    _register(sqlite_url, training_fingerprint(FEATURES_VERSION, TRAINING))
    ran, skipped = _run(sqlite_url, TRAINING)
    assert ran == ["ingest"]
    assert skipped is not None
    assert skipped.startswith(
        f"model v1 already trained on data version {FEATURES_VERSION} with these parameters"
    )


@pytest.mark.parametrize(
    "training",
    [
        {**TRAINING, "fit": {"seed": 2}},  # another parameter
        {**TRAINING, "force": True},  # on purpose
    ],
)
def test_other_parameters_or_force_train(sqlite_url: str, training: dict) -> None:
    _register(sqlite_url, training_fingerprint(FEATURES_VERSION, TRAINING))
    assert _run(sqlite_url, training) == (["ingest", "train", "evaluate"], None)


def test_another_data_version_trains(sqlite_url: str) -> None:
    _register(sqlite_url, training_fingerprint(FEATURES_VERSION + 1, TRAINING))
    assert _run(sqlite_url, TRAINING)[0] == ["ingest", "train", "evaluate"]


def test_the_project_kedro_run_defaults_to_this_runner() -> None:
    import click
    from kedro.framework.cli.project import run as kedro_run
    from kedro.utils import load_obj

    from stock_lstm.cli import cli, run

    assert cli.get_command(click.Context(cli), "run") is run  # what `kedro run` finds
    (runner,) = [p for p in run.params if p.name == "runner"]
    assert load_obj(runner.default) is TrainOnceRunner
    assert [p.name for p in run.params] == [p.name for p in kedro_run.params]
    assert [p.default for p in kedro_run.params if p.name == "runner"] == [None]  # untouched
