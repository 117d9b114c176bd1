"""The backtest benchmark's comparison of worker counts: baselines bit for bit, the networks'
largest relative difference in a fold's MAE (a worker process's fit ends a little apart)."""

from __future__ import annotations

import copy
from typing import Any

from benchmarks.backtest import _agreement


def _report(lstm_folds: list[float], naive_folds: list[float]) -> dict[str, Any]:
    def cell(folds: list[float]) -> dict[str, Any]:
        return {"h1": {"n": 10, "mae": {"mean": sum(folds) / len(folds), "folds": folds}}}

    return {
        "folds": [{"fold": 1, "seconds": 3.0}, {"fold": 2, "seconds": 4.0}],
        "baselines": ["naive"],
        "models": {
            "lstm": {"fit_seconds": 9.0, "tickers": {"MSFT": cell(lstm_folds)}},
            "naive": {"fit_seconds": 0.1, "tickers": {"MSFT": cell(naive_folds)}},
        },
        "run": {"workers": 1},
    }


def test_networks_differ_by_their_largest_relative_fold_mae_difference() -> None:
    one = _report([2.0, 4.0], [1.0, 1.5])
    two = _report([2.0, 4.004], [1.0, 1.5])
    two["run"] = {"workers": 2}
    two["folds"][0]["seconds"] = 99.0  # timings are not results

    assert _agreement(one, two) == {
        "baselines_bit_identical": True,
        "networks_max_relative_mae_difference": 0.001,
    }


def test_a_baseline_that_moves_at_all_is_not_bit_identical() -> None:
    one = _report([2.0, 4.0], [1.0, 1.5])
    two = copy.deepcopy(one)
    two["models"]["naive"]["tickers"]["MSFT"]["h1"]["mae"]["folds"][1] = 1.5000000000000002

    assert _agreement(one, two) == {
        "baselines_bit_identical": False,
        "networks_max_relative_mae_difference": 0.0,
    }
