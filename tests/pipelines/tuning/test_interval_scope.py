"""The interval-scope comparison: judged on the development period only (a poisoned backtest
test period changes nothing), its criterion recomputed from its own cells, and `make
interval-scope` writing the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from stock_lstm.ml_models.common.walk_forward import make_folds
from stock_lstm.pipelines.interval_scope.nodes import compare_interval_scopes
from tests.conftest import environment_parameters
from tests.helpers.poison import poisoned
from tests.ml_models.conftest import random_walk_features


def _params() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    found = environment_parameters("test")
    return found["tuning"], found["backtest"], found["training"]


def test_scopes_are_compared_on_the_development_period_only() -> None:
    tuning, backtest, training = _params()
    clean = random_walk_features({"AAA": 700, "BBB": 700, "CCC": 650}, seed=3)
    first_test = make_folds(
        clean, backtest["folds"], backtest["test_share"], backtest["validation_days"]
    )[0].test_start

    report = compare_interval_scopes(poisoned(clean, first_test), tuning, backtest, training)

    assert report == compare_interval_scopes(clean, tuning, backtest, training)
    assert report["development_end"] < f"{first_test:%Y-%m-%d}"
    assert all(fold["test_end"] <= report["development_end"] for fold in report["folds"])
    assert set(report["scopes"]) == {"pooled", "ticker"}
    assert report["current"] == training["intervals"]["scope"]
    errors = {}
    for scope, found in report["scopes"].items():
        cells = [found["coverage"][t][f"h{k}"] for t in ("AAA", "BBB", "CCC") for k in (1, 5)]
        assert all(len(c["folds"]) == 2 and 0 <= c["mean"] <= 1 for c in cells)
        errors[scope] = np.mean([abs(c["mean"] - 0.9) for c in cells])
        assert found["mean_abs_coverage_error"] == pytest.approx(errors[scope])
    chosen = min(errors, key=lambda s: (errors[s], s != "pooled"))
    assert report["chosen"] == chosen
    # per-ticker calibration gives (some) bands of their own: the comparison is not of twins
    assert report["scopes"]["ticker"]["coverage"] != report["scopes"]["pooled"]["coverage"]


def test_make_interval_scope_writes_the_report(project_copy: Path) -> None:
    bootstrap_project(project_copy)
    with KedroSession.create(project_path=project_copy, env="test") as session:
        session.run(
            pipeline_names=["ingestion", "cleaning", "feature_engineering", "interval_scope"]
        )
    path = project_copy / "data" / "08_reporting" / "interval_scope.json"
    report = json.loads(path.read_text())
    assert report["chosen"] in ("pooled", "ticker") and report["model_type"] == "lstm"
    assert set(report["scopes"]["ticker"]["coverage"]) == {"^GSPC", "GOOG", "MSFT"}
