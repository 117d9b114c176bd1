"""The interval-scope comparison: judged on the development period only (a poisoned backtest
test period changes nothing), its criterion recomputed from its own cells (`make
interval-scope` writing the report: test_make_targets.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.walk_forward import make_folds
from stock_lstm.ml_models.recurrent.tuning import checked_coverage_band, choose_scope
from stock_lstm.pipelines.interval_scope.nodes import compare_interval_scopes
from tests.conftest import environment_parameters
from tests.helpers.poison import poisoned
from tests.ml_models.conftest import random_walk_features


def _params() -> tuple[dict[str, Any], ...]:
    found = environment_parameters("test")
    return found["tuning"], found["backtest"], found["training"], found["interval_scope"]


def test_scopes_are_compared_on_the_development_period_only() -> None:
    tuning, backtest, training, interval_scope = _params()
    interval_scope = {"coverage_band": [0.8, 0.95]}  # not the default: the parameter is used
    clean = random_walk_features({"AAA": 700, "BBB": 700, "CCC": 650}, seed=3)
    first_test = make_folds(
        clean, backtest["folds"], backtest["test_share"], backtest["validation_days"]
    )[0].test_start

    params = (tuning, backtest, training, interval_scope)
    report = compare_interval_scopes(poisoned(clean, first_test), *params)

    assert report == compare_interval_scopes(clean, *params)
    assert report["development_end"] < f"{first_test:%Y-%m-%d}"
    assert all(fold["test_end"] <= report["development_end"] for fold in report["folds"])
    assert set(report["scopes"]) == {"pooled", "ticker"}
    assert report["current"] == training["intervals"]["scope"]
    errors = {}
    for scope, found in report["scopes"].items():
        cells = [found["coverage"][t][f"h{k}"] for t in ("AAA", "BBB", "CCC") for k in (1, 5)]
        for cell in cells:
            assert len(cell["folds"]) == 2
            assert cell["mean"] == pytest.approx(np.mean(cell["folds"]))
        errors[scope] = np.mean([abs(c["mean"] - 0.9) for c in cells])
        assert found["mean_abs_coverage_error"] == pytest.approx(errors[scope])
    assert report["coverage_band"] == [0.8, 0.95] and "[0.8, 0.95]" in report["criterion"]
    assert report["chosen"] == choose_scope(report["scopes"], 0.9, (0.8, 0.95))[0]
    for found in report["scopes"].values():  # the Winkler criterion from its own cells
        cells = [
            found["winkler"][t][f"h{k}"]["mean"] for t in ("AAA", "BBB", "CCC") for k in (1, 5)
        ]
        assert found["winkler_geometric_mean"] == pytest.approx(np.exp(np.mean(np.log(cells))))
    # per-ticker calibration gives (some) bands of their own: the comparison is not of twins
    assert report["scopes"]["ticker"]["coverage"] != report["scopes"]["pooled"]["coverage"]


def _scope(coverage: float, winkler: float) -> dict[str, float]:
    return {
        "mean_coverage": coverage,
        "mean_abs_coverage_error": abs(coverage - 0.9),
        "winkler_geometric_mean": winkler,
    }


def test_the_scope_is_chosen_by_winkler_among_those_covering_within_the_band() -> None:
    band = (0.87, 0.93)
    # closer coverage but wider, worse bands: coverage alone would pick "ticker"
    chosen, reason = choose_scope(
        {"pooled": _scope(0.875, 40.0), "ticker": _scope(0.901, 43.0)}, 0.9, band
    )
    assert chosen == "pooled" and "lowest Winkler" in reason
    # a scope outside the band is not eligible however narrow its bands
    assert (
        choose_scope({"pooled": _scope(0.85, 30.0), "ticker": _scope(0.90, 43.0)}, 0.9, band)[0]
        == "ticker"
    )
    # a tie goes to pooled
    assert (
        choose_scope({"ticker": _scope(0.9, 40.0), "pooled": _scope(0.88, 40.0)}, 0.9, band)[0]
        == "pooled"
    )
    # none in the band: the closest coverage, and the reason says so
    chosen, reason = choose_scope(
        {"pooled": _scope(0.80, 30.0), "ticker": _scope(0.95, 43.0)}, 0.9, band
    )
    assert chosen == "ticker" and reason.startswith("no scope covers")


def test_the_coverage_band_is_a_parameter_around_the_level() -> None:
    assert environment_parameters("base")["interval_scope"]["coverage_band"] == [0.87, 0.93]
    assert checked_coverage_band([0.85, 0.95], 0.9) == (0.85, 0.95)
    for band in ([0.91, 0.95], [0.8, 1.2], [0.93, 0.87], "0.9", [0.9]):
        with pytest.raises(InputError, match=r"interval_scope.coverage_band is"):
            checked_coverage_band(band, 0.9)
