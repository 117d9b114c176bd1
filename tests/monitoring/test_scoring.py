"""Scoring logged forecasts against the closes that followed, checked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.monitoring.scoring import (
    FORECAST_COLUMNS,
    SCORED_COLUMNS,
    combine_forecasts,
    forecast_steps_from_log,
    score_forecasts,
)
from tests.monitoring.conftest import forecast_rows


def test_steps_are_scored_on_the_tickers_own_calendar(prices: pd.DataFrame) -> None:
    # BBB from Tuesday 01-02 (close 51): its 1st trading day after is Thursday 01-04 (49), the
    # 2nd Friday 01-05 (52); Wednesday is not a BBB trading day.
    forecasts = pd.DataFrame(forecast_rows("1", "BBB", "2024-01-02", [50.0, 53.5]))
    result = score_forecasts(forecasts, prices)
    steps = result.steps
    assert list(steps.columns) == list(SCORED_COLUMNS)
    assert list(steps["target_date"].dt.strftime("%Y-%m-%d")) == ["2024-01-04", "2024-01-05"]
    assert list(steps["origin_close"]) == [51.0, 51.0]
    assert list(steps["actual"]) == [49.0, 52.0]
    assert list(steps["error"]) == [49.0 - 50.0, 52.0 - 53.5]
    assert list(steps["abs_error"]) == [1.0, 1.5]
    assert list(steps["naive_error"]) == [49.0 - 51.0, 52.0 - 51.0]
    assert list(steps["naive_abs_error"]) == [2.0, 1.0]
    # intervals [49, 51] and [52.5, 54.5]: 49 is inside (bounds count), 52 is not
    assert list(steps["inside"]) == [True, False]
    assert result.status_counts()["scored"] == 1


def test_targets_not_yet_closed_are_pending_not_errors(prices: pd.DataFrame) -> None:
    forecasts = pd.DataFrame(
        forecast_rows("1", "AAA", "2024-01-04", [104.5, 106.0, 107.0])  # 1 target exists
        + forecast_rows("2", "AAA", "2024-01-05", [104.0, 104.0])  # none exists yet
    )
    result = score_forecasts(forecasts, prices)
    assert list(result.steps["forecast_id"]) == ["1"]
    assert list(result.steps["step"]) == [1]
    assert result.steps["actual"].tolist() == [104.0]
    status = result.forecasts.set_index("forecast_id")
    assert status.loc["1", "status"] == "partial"
    assert (status.loc["1", "n_steps"], status.loc["1", "n_scored"]) == (3, 1)
    assert status.loc["2", "status"] == "pending"
    assert status.loc["2", "n_scored"] == 0


def test_forecasts_without_a_ticker_are_counted_as_unscorable(prices: pd.DataFrame) -> None:
    forecasts = pd.DataFrame(
        forecast_rows("1", None, None, [10.0, 11.0])  # from a price history the client sent
        + forecast_rows("2", "ZZZ", "2024-01-02", [1.0])  # a ticker with no closes
        + forecast_rows("3", "AAA", "2024-01-06", [1.0])  # a Saturday: not an AAA trading day
        + forecast_rows("5", "AAA", None, [1.0])  # a ticker but no origin recorded
        + forecast_rows("4", "AAA", "2024-01-01", [101.0])
    )
    result = score_forecasts(forecasts, prices)
    assert result.status_counts() == {
        "scored": 1,
        "partial": 0,
        "pending": 0,
        "no_ticker": 1,
        "unknown_ticker": 1,
        "unknown_origin": 2,
    }
    assert list(result.steps["forecast_id"]) == ["4"]


def test_api_and_shadow_forecasts_of_one_origin_are_scored_alike(prices: pd.DataFrame) -> None:
    forecasts = pd.DataFrame(
        forecast_rows("7", "AAA", "2024-01-02", [101.5], source="api")
        + forecast_rows("7", "AAA", "2024-01-02", [101.5], source="shadow")
    )
    steps = score_forecasts(forecasts, prices).steps
    assert sorted(steps["source"]) == ["api", "shadow"]
    assert steps["error"].tolist() == [-0.5, -0.5]


def test_the_predictions_log_becomes_forecast_rows() -> None:
    log = pd.DataFrame(
        {
            "id": [3, 4],
            "ticker": ["AAA", None],
            "origin_date": ["2024-01-02", None],
            "model_version": ["v1", "v1"],
            "values": [
                [
                    {"step": 1, "date": "2024-01-03", "close": 1.0, "lower": 0.5, "upper": 1.5},
                    {"step": 2, "date": "2024-01-04", "close": 2.0, "lower": 1.5, "upper": 2.5},
                ],
                [{"step": 1, "date": None, "close": 3.0, "lower": 2.0, "upper": 4.0}],
            ],
        }
    )
    rows = forecast_steps_from_log(log)
    assert list(rows.columns) == list(FORECAST_COLUMNS)
    assert rows["forecast_id"].tolist() == ["3", "3", "4"]
    assert rows["source"].unique().tolist() == ["api"]
    assert rows["step"].tolist() == [1, 2, 1]
    assert rows["upper"].tolist() == [1.5, 2.5, 4.0]
    assert rows["ticker"].tolist() == ["AAA", "AAA", None]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (forecast_rows("1", "AAA", "2024-01-02", [1.0]) * 2, "has step 1 more than once"),
        (
            forecast_rows("1", "AAA", "2024-01-02", [1.0])
            + [{**forecast_rows("1", "AAA", "2024-01-03", [1.0, 2.0])[1]}],
            "differ in origin_date",
        ),
        ([{**forecast_rows("1", "AAA", "2024-01-02", [1.0])[0], "step": 0}], "not an integer"),
    ],
)
def test_malformed_forecasts_are_refused_by_name(
    prices: pd.DataFrame, rows: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        score_forecasts(pd.DataFrame(rows), prices)


def test_missing_columns_are_named(prices: pd.DataFrame) -> None:
    forecasts = pd.DataFrame(forecast_rows("1", "AAA", "2024-01-02", [1.0])).drop(columns="upper")
    with pytest.raises(InputError, match="forecasts lacks column.*upper"):
        score_forecasts(forecasts, prices)


def test_a_repeated_close_is_refused(prices: pd.DataFrame) -> None:
    doubled = pd.concat([prices, prices.iloc[[0]]], ignore_index=True)
    forecasts = pd.DataFrame(forecast_rows("1", "AAA", "2024-01-02", [1.0]))
    with pytest.raises(InputError, match="'AAA' has more than one close on 2024-01-01"):
        score_forecasts(forecasts, doubled)


def test_combining_adds_only_forecasts_not_stored_yet() -> None:
    stored = pd.DataFrame(forecast_rows("a", "AAA", "2024-01-02", [1.0, 2.0], source="shadow"))
    new = pd.DataFrame(
        forecast_rows("a", "AAA", "2024-01-02", [1.0, 2.0], source="shadow")  # a rerun
        + forecast_rows("a", "AAA", "2024-01-02", [5.0], source="api")  # same id, other source
        + forecast_rows("b", "AAA", "2024-01-03", [3.0], source="shadow")
    )
    combined = combine_forecasts(stored, new)
    assert list(
        zip(combined["source"], combined["forecast_id"], combined["step"], strict=True)
    ) == [
        ("shadow", "a", 1),
        ("shadow", "a", 2),
        ("api", "a", 1),
        ("shadow", "b", 1),
    ]
    empty = pd.DataFrame({c: [] for c in FORECAST_COLUMNS})
    assert len(combine_forecasts(empty, new)) == 4
