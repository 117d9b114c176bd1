"""The headline says only what the report's tests support: wins where the Holm-corrected DM
test rejects, "no significant difference" elsewhere, and the up share next to the base rate."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import pytest

from stock_lstm.cli import headline as cli
from stock_lstm.ml_models.common.baselines import fit_naive
from stock_lstm.ml_models.common.headline import headline_markdown
from stock_lstm.ml_models.common.skill import add_skill
from stock_lstm.ml_models.common.walk_forward import ErrorStore, make_folds, run_walk_forward
from tests.ml_models.conftest import random_walk_features
from tests.ml_models.test_skill import PARAMS, _always_up, _Fixed, _oracle


@functools.cache
def _report() -> dict:
    """The walk-forward report with skill of a drift "lstm", an oracle and naive: computed once
    per process for the modules that read it (this one and tests/test_report_docs.py)."""
    features = random_walk_features({"AAA": 600, "BBB": 600}, sigma=0.01, seed=4)
    folds = make_folds(features, n_folds=2, test_share=0.3, validation_days=50)
    fits = {
        "naive": lambda v, c: fit_naive(v, c, PARAMS),
        "oracle": _Fixed(_oracle),
        "lstm": _Fixed(_always_up),  # a network that learned a constant drift
    }
    errors: ErrorStore = {}
    found = run_walk_forward(
        features,
        folds,
        fits,
        baselines=["naive"],
        window=10,
        steps=[1, 5],
        level=0.9,
        errors=errors,
    )
    found["universe"] = ["AAA", "BBB"]
    found["models"]["lstm"]["seeds"] = [42]
    return add_skill(found, errors, level=0.05, mcs_size=0.10, reps=200, seed=1)


@pytest.fixture(scope="module")
def report() -> dict:
    return copy.deepcopy(_report())  # a module's own copy: one may alter it


def test_headline_claims_wins_only_where_the_corrected_test_rejects(report: dict) -> None:
    text = headline_markdown(report)
    oracle_rows = [line for line in text.splitlines() if line.startswith("| oracle |")]
    assert len(oracle_rows) == 2 and all(
        "| AAA, BBB | none | 0 of 2 tickers |" in r for r in oracle_rows
    )
    for k in (1, 5):
        summary = report["models"]["lstm"]["summary"][f"h{k}"]
        row = next(
            line
            for line in text.split(f"## Step {k}")[1].splitlines()
            if line.startswith("| lstm |")
        )
        wins = ", ".join(summary["significant_wins"]) or "none"
        assert f"| {wins} |" in row
        rest = 2 - len(summary["significant_wins"]) - len(summary["significant_losses"])
        assert row.endswith(f"| {rest} of 2 tickers |")
    assert "no significant difference" in text


def test_headline_puts_the_up_share_next_to_the_base_rate(report: dict) -> None:
    text = headline_markdown(report)
    base = (
        sum(report["models"]["lstm"]["tickers"][t]["h5"]["base_rate"] for t in ("AAA", "BBB")) / 2
    )
    assert f"| lstm | 5 | 1.00 | {base:.2f} | none |" in text
    assert "Seeds: lstm [42]." in text


def test_headline_cli_writes_the_file_and_refuses_a_report_without_tests(
    report: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "backtest.json", tmp_path / "headline.md"
    source.write_text(json.dumps(report))
    assert cli.main(["--report", str(source), "--out", str(out)]) == 0
    assert out.read_text() == headline_markdown(report)
    old = {key: value for key, value in report.items() if key != "significance"}
    source.write_text(json.dumps(old))
    assert cli.main(["--report", str(source)]) == 1
    assert "no significance tests" in capsys.readouterr().err
    assert cli.main(["--report", str(tmp_path / "missing.json")]) == 1
