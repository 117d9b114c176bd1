"""Shadow forecasts: one per ticker from its newest close, or from each replayed origin, in the
shape of logged forecasts so that scoring treats them like served ones."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.monitoring.scoring import FORECAST_COLUMNS, score_forecasts
from stock_lstm.monitoring.shadow import shadow_forecasts


class StepUpModel:
    """A stand-in model: last close + k at step k (2 steps), interval ± 2; records its inputs."""

    def __init__(self) -> None:
        self.histories: list[list[float]] = []
        self.tickers: list[str] = []

    def __call__(
        self, ticker: str, history: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.tickers.append(ticker)
        self.histories.append(history.tolist())
        close = history[-1] + np.arange(1.0, 3.0)
        return close, close - 2.0, close + 2.0


@pytest.fixture
def step_up() -> StepUpModel:
    return StepUpModel()


def test_newest_origin_of_every_ticker(prices: pd.DataFrame, step_up: StepUpModel) -> None:
    rows = shadow_forecasts(step_up, prices, "v1", min_history=2)
    assert list(rows.columns) == list(FORECAST_COLUMNS)
    assert rows["source"].unique().tolist() == ["shadow"]
    assert rows["ticker"].tolist() == ["AAA", "AAA", "BBB", "BBB"]
    assert rows["origin_date"].dt.strftime("%Y-%m-%d").unique().tolist() == ["2024-01-05"]
    assert rows["step"].tolist() == [1, 2, 1, 2]
    assert rows["close"].tolist() == [105.0, 106.0, 53.0, 54.0]
    assert rows["lower"].tolist() == [103.0, 104.0, 51.0, 52.0]
    assert rows["forecast_id"].unique().tolist() == ["v1/AAA/2024-01-05", "v1/BBB/2024-01-05"]
    # each forecast saw its ticker's closes up to the origin, oldest first, and nothing else,
    # and was told whose they are (a ticker's own interval quantiles)
    assert step_up.histories == [
        [100.0, 102.0, 101.0, 105.0, 104.0],
        [50.0, 51.0, 49.0, 52.0],
    ]
    assert step_up.tickers == ["AAA", "BBB"]


def test_replay_origins_skip_days_a_ticker_did_not_trade_and_short_histories(
    prices: pd.DataFrame, step_up: StepUpModel
) -> None:
    origins = [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)]
    rows = shadow_forecasts(step_up, prices, "v1", min_history=2, origins=origins)
    made = rows.drop_duplicates("forecast_id")
    # 01-01 has one close (< min_history 2); BBB did not trade on 01-03
    assert list(zip(made["ticker"], made["origin_date"].dt.day, strict=True)) == [
        ("AAA", 2),
        ("AAA", 3),
        ("BBB", 2),
    ]
    assert step_up.histories == [
        [100.0, 102.0],
        [100.0, 102.0, 101.0],
        [50.0, 51.0],
    ]


def test_shadow_forecasts_are_scored_like_logged_ones(
    prices: pd.DataFrame, step_up: StepUpModel
) -> None:
    rows = shadow_forecasts(step_up, prices, "v1", 2, origins=[dt.date(2024, 1, 2)])
    steps = score_forecasts(rows, prices).steps
    aaa = steps[steps["ticker"] == "AAA"]
    # AAA from 01-02 (102): forecasts 103, 104; actuals 101 (01-03), 105 (01-04)
    assert aaa["error"].tolist() == [101.0 - 103.0, 105.0 - 104.0]
    assert aaa["naive_error"].tolist() == [101.0 - 102.0, 105.0 - 102.0]
    assert aaa["inside"].tolist() == [True, True]
    bbb = steps[steps["ticker"] == "BBB"]
    # BBB from 01-02 (51): its next trading days are 01-04 (49) and 01-05 (52)
    assert bbb["actual"].tolist() == [49.0, 52.0]
    assert bbb["error"].tolist() == [49.0 - 52.0, 52.0 - 53.0]


def test_a_forecast_function_of_the_wrong_shape_is_named(prices: pd.DataFrame) -> None:
    def broken(ticker: str, history: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.ones(2), np.ones(3), np.ones(2)

    with pytest.raises(InputError, match="shapes \\(2,\\), \\(3,\\), \\(2,\\) for AAA"):
        shadow_forecasts(broken, prices, "v1", 2)


def test_no_origin_gives_an_empty_frame_that_scores_to_nothing(
    prices: pd.DataFrame, step_up: StepUpModel
) -> None:
    rows = shadow_forecasts(step_up, prices, "v1", min_history=100)
    assert rows.empty
    assert list(rows.columns) == list(FORECAST_COLUMNS)
    scored = score_forecasts(rows, prices)
    assert scored.steps.empty
    assert sum(scored.status_counts().values()) == 0
