"""Training is idempotent: `make pipeline` (python -m stock_lstm.cli.pipeline) with the same
features version, training parameters and code trains nothing and registers nothing; a narrower
ingestion window or a folder lacking a ticker changes no stored bar, so it trains nothing
either; `training.force=true` trains again on purpose. (A bare `kedro run`, its default runner
pipelines/train_once.py, is checked on the one `kedro run` subprocess of the tests, typed as a
user types it: tests/test_environments.py test_the_same_kedro_run_again_trains_nothing.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stock_lstm.cli import pipeline as pipeline_cli
from stock_lstm.common.fingerprint import training_fingerprint
from tests.helpers.database import crud_on
from tests.pipelines.ingestion.test_incremental import without_goog

ENV = "test"


def registry() -> tuple[list[tuple[str, str]], str | None, list]:
    versions = [(v.model_version, v.status) for v in crud_on().list_model_versions()]
    return versions, crud_on().champion_version(), crud_on().list_versions()


def test_an_unchanged_run_trains_and_registers_nothing(
    trained_project_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = trained_project_copy
    before = registry()
    (champion,) = [v for v in crud_on().list_model_versions() if v.status == "champion"]
    features = crud_on().latest_version("features")
    assert champion.training_fingerprint == training_fingerprint(
        features.id, pipeline_cli.training_inputs(root, ENV, {})
    )

    with caplog.at_level("INFO"):
        outcome = pipeline_cli.run_pipeline(root, ENV)
    assert not outcome.trained
    assert (
        f"model {champion.model_version} already trained on data version {features.id} "
        "with these parameters"
    ) in caplog.text
    assert registry() == before

    # a narrower window and a folder lacking a stored ticker: no bar closed, nothing trained
    assert not pipeline_cli.run_pipeline(root, ENV, {"ingestion": {"end": "2012-10-31"}}).trained
    folder = root / "data" / "01_raw" / "without_goog"
    shutil.copytree(root / "data" / "01_raw" / "snapshot", folder)
    without_goog(folder)
    lacking = {"ingestion": {"csv_dir": str(folder), "tickers": "all"}}
    assert not pipeline_cli.run_pipeline(root, ENV, lacking).trained
    assert registry() == before
    assert {s.ticker for s in crud_on().ticker_summaries("features")} == {"GOOG", "MSFT", "^GSPC"}

    # on purpose: one new version, trained from the same inputs
    assert pipeline_cli.run_pipeline(root, ENV, {"training": {"force": True}}).trained
    versions = crud_on().list_model_versions()
    assert len(versions) == len(before[0]) + 1
    assert versions[0].training_fingerprint == champion.training_fingerprint


def test_another_parameter_is_another_fingerprint() -> None:
    params = {"model": {"window": 10}, "fit": {"seed": 1}}
    base = training_fingerprint(7, params)
    assert training_fingerprint(7, {**params, "force": True}) == base  # how to run, not what
    assert training_fingerprint(8, params) != base
    assert training_fingerprint(7, {**params, "fit": {"seed": 2}}) != base
