"""Rolling accuracy over trading-day windows, checked against sums done by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.monitoring.accuracy import ACCURACY_COLUMNS, rolling_accuracy
from stock_lstm.monitoring.scoring import score_forecasts
from tests.monitoring.conftest import forecast_rows


@pytest.fixture
def scored(prices: pd.DataFrame) -> pd.DataFrame:
    # AAA closes 01-01..01-05: 100, 102, 101, 105, 104; intervals close ± 1.
    # A from 01-01 (100): targets 02, 03, 04 = 102, 101, 105; |err| 1, 2, 5; naive 2, 1, 5;
    #   inside: 102 in [100, 102] yes, 101 in [102, 104] no, 105 in [99, 101] no.
    # B from 01-03 (101): target 04 = 105; |err| 1; naive 4; inside [103, 105] yes.
    # C: another model version, kept apart.
    forecasts = pd.DataFrame(
        forecast_rows("A", "AAA", "2024-01-01", [101.0, 103.0, 100.0], source="shadow")
        + forecast_rows("B", "AAA", "2024-01-03", [104.0], source="shadow")
        + forecast_rows("C", "AAA", "2024-01-01", [102.0], source="shadow", model_version="v2")
    )
    return score_forecasts(forecasts, prices).steps


def _row(accuracy: pd.DataFrame, model: str, window: int, day: str) -> pd.Series:
    match = accuracy[
        (accuracy["model_version"] == model)
        & (accuracy["window"] == window)
        & (accuracy["as_of"] == pd.Timestamp(day))
    ]
    assert len(match) == 1
    return match.iloc[0]


@pytest.mark.parametrize(
    ("window", "day", "n", "mae", "naive_mae", "coverage"),
    [
        # daily (n, sum|err|, sum naive, inside): 02 (1, 1, 2, 1); 03 (1, 2, 1, 0);
        # 04 (2, 6, 9, 1); 05 (0, 0, 0, 0)
        (2, "2024-01-02", 1, 1.0, 2.0, 1.0),
        (2, "2024-01-03", 2, 3 / 2, 3 / 2, 1 / 2),
        (2, "2024-01-04", 3, 8 / 3, 10 / 3, 1 / 3),
        (2, "2024-01-05", 2, 6 / 2, 9 / 2, 1 / 2),
        (3, "2024-01-04", 4, 9 / 4, 12 / 4, 2 / 4),
        (3, "2024-01-05", 3, 8 / 3, 10 / 3, 1 / 3),
    ],
)
def test_windows_sum_the_scored_steps_of_their_trading_days(
    scored: pd.DataFrame,
    prices: pd.DataFrame,
    window: int,
    day: str,
    n: int,
    mae: float,
    naive_mae: float,
    coverage: float,
) -> None:
    accuracy = rolling_accuracy(scored, prices, [2, 3])
    assert list(accuracy.columns) == list(ACCURACY_COLUMNS)
    row = _row(accuracy, "v1", window, day)
    assert row["n"] == n
    assert row["mae"] == pytest.approx(mae)
    assert row["naive_mae"] == pytest.approx(naive_mae)
    assert row["mae_ratio"] == pytest.approx(mae / naive_mae)
    assert row["coverage"] == pytest.approx(coverage)


def test_rows_start_at_the_first_scored_target_and_empty_windows_are_nan(
    scored: pd.DataFrame, prices: pd.DataFrame
) -> None:
    accuracy = rolling_accuracy(scored, prices, [1])
    v1 = accuracy[accuracy["model_version"] == "v1"]
    assert list(v1["as_of"].dt.strftime("%m-%d")) == ["01-02", "01-03", "01-04", "01-05"]
    empty = _row(accuracy, "v1", 1, "2024-01-05")
    assert empty["n"] == 0
    assert all(math.isnan(empty[c]) for c in ("mae", "naive_mae", "mae_ratio", "coverage"))


def test_model_versions_are_kept_apart(scored: pd.DataFrame, prices: pd.DataFrame) -> None:
    # C (v2) from 01-01: target 01-02 = 102, forecast 102: error 0, naive 2.
    row = _row(rolling_accuracy(scored, prices, [2]), "v2", 2, "2024-01-02")
    assert (row["n"], row["mae"], row["naive_mae"], row["mae_ratio"]) == (1, 0.0, 2.0, 0.0)


def test_a_zero_naive_error_gives_no_ratio(prices: pd.DataFrame) -> None:
    flat = prices.assign(close=100.0)
    forecasts = pd.DataFrame(forecast_rows("A", "AAA", "2024-01-01", [101.0]))
    row = rolling_accuracy(score_forecasts(forecasts, flat).steps, flat, [2]).iloc[0]
    assert row["mae"] == 1.0
    assert row["naive_mae"] == 0.0
    assert math.isnan(row["mae_ratio"])


@pytest.mark.parametrize("windows", [[], [0], [5, 5]])
def test_bad_windows_are_refused(
    scored: pd.DataFrame, prices: pd.DataFrame, windows: list[int]
) -> None:
    with pytest.raises(InputError, match="windows must be distinct integers >= 1"):
        rolling_accuracy(scored, prices, windows)


def test_no_scored_steps_give_no_rows(scored: pd.DataFrame, prices: pd.DataFrame) -> None:
    accuracy = rolling_accuracy(scored.iloc[0:0], prices, [20])
    assert accuracy.empty
    assert list(accuracy.columns) == list(ACCURACY_COLUMNS)
