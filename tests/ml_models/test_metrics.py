"""Every point and interval metric against a hand computation on a few numbers (the values of
each report: evaluation, backtest, monitoring), edge cases included."""

from __future__ import annotations

import numpy as np
import pytest

from stock_lstm.ml_models.common.metrics import (
    coverage,
    directional_accuracy,
    mae,
    mape,
    mean_width,
    point_metrics,
    ratio_or_none,
    rmse,
    winkler_score,
)

ORIGIN = np.array([10.0, 10.0, 10.0, 10.0])
ACTUAL = np.array([11.0, 9.0, 10.0, 12.0])
FORECAST = np.array([10.5, 10.5, 10.0, 8.0])  # errors 0.5, -1.5, 0, 4


def test_point_metrics_match_a_hand_computation() -> None:
    assert mae(ACTUAL, FORECAST) == pytest.approx((0.5 + 1.5 + 0 + 4) / 4)
    assert rmse(ACTUAL, FORECAST) == pytest.approx(np.sqrt((0.25 + 2.25 + 0 + 16) / 4))
    assert mape(ACTUAL, FORECAST) == pytest.approx(100 * (0.5 / 11 + 1.5 / 9 + 0 / 10 + 4 / 12) / 4)
    # up/up right, up vs down wrong, flat/flat right, down vs up wrong
    assert directional_accuracy(ORIGIN, ACTUAL, FORECAST) == pytest.approx(0.5)
    assert point_metrics(ORIGIN, ACTUAL, FORECAST) == {
        "mae": mae(ACTUAL, FORECAST),
        "rmse": rmse(ACTUAL, FORECAST),
        "mape": mape(ACTUAL, FORECAST),
        "directional_accuracy": directional_accuracy(ORIGIN, ACTUAL, FORECAST),
    }
    for name, value in point_metrics(ORIGIN, ACTUAL, FORECAST).items():
        assert type(value) is float, name


def test_mape_is_relative_to_the_actual_not_the_forecast() -> None:
    assert mape(np.array([200.0]), np.array([100.0])) == pytest.approx(50.0)


def test_a_no_change_forecast_is_right_only_where_the_price_did_not_move() -> None:
    naive = ORIGIN.copy()
    assert directional_accuracy(ORIGIN, ACTUAL, naive) == pytest.approx(0.25)


def test_a_ratio_needs_a_positive_denominator() -> None:
    assert ratio_or_none(1.5, 3.0) == pytest.approx(0.5)
    assert ratio_or_none(1.0, 0.5) == pytest.approx(2.0)  # a denominator below 1 is fine
    assert ratio_or_none(1.5, 0.0) is None
    assert ratio_or_none(0.0, 2.0) == 0.0


def test_coverage_counts_actuals_on_the_band_edges_as_inside() -> None:
    lower = np.array([11.0, 9.5, 9.0, 12.5])
    upper = np.array([12.0, 10.0, 10.0, 13.0])
    # on the lower edge: in; below: out; on the upper edge: in; below the band: out
    assert coverage(ACTUAL, lower, upper) == pytest.approx(0.5)
    assert mean_width(lower, upper) == pytest.approx((1.0 + 0.5 + 1.0 + 0.5) / 4)


def test_winkler_score_adds_two_over_alpha_times_each_miss() -> None:
    lower = np.array([10.0, 10.0, 8.0])
    upper = np.array([12.0, 12.0, 9.0])
    actual = np.array([11.0, 9.0, 9.5])  # inside, 1.0 below, 0.5 above
    level = 0.8  # 2 / alpha = 10
    expected = ((2.0 + 0.0) + (2.0 + 10 * 1.0) + (1.0 + 10 * 0.5)) / 3
    assert winkler_score(actual, lower, upper, level) == pytest.approx(expected)
    assert winkler_score(np.array([11.0]), np.array([10.0]), np.array([12.0]), 0.5) == 2.0


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.1])
def test_winkler_score_refuses_a_level_outside_zero_one(level: float) -> None:
    with pytest.raises(ValueError, match=f"interval level must be in \\(0, 1\\), got {level}"):
        winkler_score(ACTUAL, ACTUAL - 1, ACTUAL + 1, level)
