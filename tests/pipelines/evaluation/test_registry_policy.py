"""The evaluation registers each version as a candidate; `evaluation.promote` decides whether it
becomes the champion; a version whose ONNX export fails parity is never registered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from stock_lstm.common.errors import InputError
from stock_lstm.data_pipeline.model_registry import promotion_decision
from stock_lstm.pipelines.evaluation.nodes import registry_entry
from tests.helpers.database import crud_on

NEW = "2026-01-02T00.00.00.000Z"
WINDOW = {"window_start": "2012-12-27", "window_end": "2013-03-01", "window_problem": None}


def comparison(version: str | None, **mae: float) -> dict:
    return {**WINDOW, "champion_version": version, "champion_problem": None, "mae": mae}


@pytest.mark.parametrize(
    ("policy", "scores", "promoted"),
    [
        ("always", {"candidate": 2.0, "champion": 1.0}, True),
        ("never", {"candidate": 1.0, "champion": 2.0}, False),
        ("if_better", {"candidate": 1.0, "champion": 2.0}, True),
        ("if_better", {"candidate": 2.0, "champion": 2.0}, False),
    ],
)
def test_the_policy_decides_against_a_champion(policy: str, scores: dict, promoted: bool) -> None:
    decision = promotion_decision(policy, comparison("old", **scores), NEW)
    assert decision["promote"] is promoted
    assert decision["reason"].startswith(f"promote: {policy}")
    if policy == "if_better":
        assert "unseen window 2012-12-27..2013-03-01" in decision["reason"]


@pytest.mark.parametrize("policy", ["always", "never", "if_better"])
def test_an_empty_registrys_first_version_always_becomes_champion(policy: str) -> None:
    decision = promotion_decision(policy, comparison(None, candidate=5.0), NEW)
    assert decision == {"promote": True, "reason": "first version of an empty registry"}


def test_an_unknown_policy_is_refused_by_name() -> None:
    with pytest.raises(InputError, match="evaluation.promote is 'sometimes'; use one of always"):
        promotion_decision("sometimes", comparison("old", candidate=1.0, champion=2.0), NEW)


def test_a_failed_parity_is_never_registered() -> None:
    report = {"model_version": NEW, "split": {}, "tickers": {}, "summary": {}}
    evaluated = (report, {"data_version": 3}, {"trained_at": "2026-01-02T00:00:00+00:00"}, {})
    parity = {"passed": False, "max_abs_diff": 0.2, "tolerance": 1e-5}
    with pytest.raises(InputError, match=f"ONNX export of model version {NEW} differs .* 0.2"):
        registry_entry(*evaluated, parity, comparison(None, candidate=1.0), "always")
    entry = registry_entry(
        *evaluated, {**parity, "passed": True}, comparison(None, candidate=1.0), "always"
    )
    assert entry["metrics"]["onnx_parity"]["passed"] and entry["promotion"]["promote"]
    assert entry["data_version_id"] == 3 and entry["model_version"] == NEW


def _run(project: Path, pipeline: str, **params: Any) -> None:
    """`pipeline` in env test of `project`, with `params` as runtime parameters."""
    with KedroSession.create(project_path=project, env="test", runtime_params=params) as session:
        session.run(pipeline_name=pipeline)


def test_policies_on_real_runs(trained_project_copy: Path) -> None:
    project_copy = trained_project_copy  # every pipeline ran there once, in env "test"
    bootstrap_project(project_copy)
    first = crud_on().champion_version()
    assert first is not None

    _run(project_copy, "training", training={"fit": {"seed": 3}})
    _run(project_copy, "evaluation", evaluation={"promote": "never"})
    second = crud_on().get_model_version()
    assert second.model_version != first and second.status == "candidate"
    assert crud_on().champion_version() == first
    scores = second.metrics["comparison"]
    assert scores["champion_version"] == first and set(scores["mae"]) == {"candidate", "champion"}

    _run(project_copy, "evaluation", evaluation={"promote": "if_better"})
    better = scores["mae"]["candidate"] < scores["mae"]["champion"]
    assert (crud_on().champion_version() == second.model_version) is better
    latest = crud_on().registry_events(limit=1)[0]
    assert latest.actor == "evaluation"
