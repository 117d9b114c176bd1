"""Features, the chronological split, the no-leak scaler and window/target alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_lstm.ml_models.lstm_model.preprocess import (
    PreprocessError,
    add_log_returns,
    assign_splits,
    build_windows,
    cumulative_targets,
    fit_scaler,
    histories,
    split_bounds,
    target_divisors,
    window_origins,
)

FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}


def test_log_returns_per_ticker_with_nan_first_row() -> None:
    prices = pd.DataFrame(
        {
            "ticker": ["B", "A", "A", "A", "B"],
            "date": pd.to_datetime(
                ["2020-01-02", "2020-01-03", "2020-01-02", "2020-01-06", "2020-01-03"]
            ),
            "close": [10.0, 110.0, 100.0, 99.0, 20.0],
        }
    )
    features = add_log_returns(prices)
    assert features["ticker"].tolist() == ["A", "A", "A", "B", "B"]
    assert features["close"].tolist() == [100.0, 110.0, 99.0, 10.0, 20.0]
    returns = features["log_return"].to_numpy()
    assert np.isnan(returns[0]) and np.isnan(returns[3])
    np.testing.assert_allclose(
        returns[[1, 2, 4]], [np.log(1.1), np.log(99 / 110), np.log(2.0)], rtol=1e-12
    )


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan])
def test_bad_close_names_ticker_and_date(bad: float) -> None:
    prices = pd.DataFrame(
        {
            "ticker": ["A", "A"],
            "date": pd.to_datetime(["2020-01-02", "2020-01-03"]),
            "close": [1.0, bad],
        }
    )
    with pytest.raises(PreprocessError, match=r"ticker 'A', date 2020-01-03"):
        add_log_returns(prices)


def test_split_bounds_are_chronological_and_cover_every_row() -> None:
    bounds = split_bounds(1000, FRACTIONS)
    assert (bounds.train_end, bounds.validation_end) == (700, 850)
    assert bounds.rows("train") == (0, 700)
    assert bounds.rows("validation") == (700, 850)
    assert bounds.rows("test") == (850, 1000)


@pytest.mark.parametrize(
    "fractions",
    [{"train": 0.8, "validation": 0.15, "test": 0.15}, {"train": 1.0, "validation": 0, "test": 0}],
)
def test_bad_split_fractions_are_refused(fractions: dict[str, float]) -> None:
    with pytest.raises(PreprocessError, match="split fractions"):
        split_bounds(100, fractions)


def test_assign_splits_per_ticker_in_date_order(walk_features: pd.DataFrame) -> None:
    split = assign_splits(walk_features, FRACTIONS)
    for ticker, group in split.groupby("ticker"):
        n = len(group)
        counts = group["split"].value_counts()
        assert counts["train"] == round(0.7 * n)
        assert counts["train"] + counts["validation"] == round(0.85 * n)
        last = {s: group.loc[group["split"] == s, "date"] for s in ("train", "validation", "test")}
        assert last["train"].max() < last["validation"].min(), ticker
        assert last["validation"].max() < last["test"].min(), ticker


def test_scaler_statistics_are_the_training_rows_alone(walk_features: pd.DataFrame) -> None:
    scaler = fit_scaler(walk_features, FRACTIONS)
    split = assign_splits(walk_features, FRACTIONS)
    train = split.loc[split["split"] == "train", "log_return"].dropna().to_numpy()
    assert scaler.mean_[0] == pytest.approx(train.mean(), rel=1e-12)
    assert scaler.scale_[0] == pytest.approx(train.std(), rel=1e-12)
    # Whatever happens after the training period cannot move the scaler.
    shocked = split.copy()
    later = shocked["split"] != "train"
    shocked.loc[later, "close"] = shocked.loc[later, "close"] * np.linspace(1, 50, later.sum())
    shocked = add_log_returns(shocked.drop(columns=["log_return", "split"]))
    again = fit_scaler(shocked, FRACTIONS)
    assert (again.mean_[0], again.scale_[0]) == (scaler.mean_[0], scaler.scale_[0])


def test_windows_end_at_the_origin_and_targets_follow_it() -> None:
    closes = np.exp(np.arange(20, dtype=float) * 0.01 + np.sin(np.arange(20)))
    origins = np.array([3, 10])
    past = histories(closes, origins, window=3)
    np.testing.assert_array_equal(past, [closes[0:4], closes[7:11]])
    targets = cumulative_targets(closes, origins, horizon=2)
    np.testing.assert_allclose(
        targets,
        [
            [np.log(closes[4] / closes[3]), np.log(closes[5] / closes[3])],
            [np.log(closes[11] / closes[10]), np.log(closes[12] / closes[10])],
        ],
    )


def test_window_origins_keep_targets_inside_the_split() -> None:
    origins = window_origins(100, start=70, end=85, window=5, horizon=3)
    assert origins.min() == 70 and origins.max() == 81  # 81 + 3 = 84, the last row of the split
    assert window_origins(100, start=0, end=70, window=60, horizon=30).size == 0
    assert window_origins(100, start=0, end=70, window=10, horizon=5)[0] == 10


def test_build_windows_scales_inputs_and_targets(walk_features: pd.DataFrame) -> None:
    scaler = fit_scaler(walk_features, FRACTIONS)
    windows = build_windows(walk_features, scaler, FRACTIONS, "validation", 10, 4)
    aaa = walk_features[walk_features["ticker"] == "AAA"]
    closes = aaa["close"].to_numpy()
    start, end = split_bounds(len(closes), FRACTIONS).rows("validation")
    origins = window_origins(len(closes), start, end, 10, 4)
    assert (windows.tickers == "AAA").sum() == origins.size
    first = origins[0]
    returns = np.diff(np.log(closes[first - 10 : first + 1]))
    expected_x = (returns - scaler.mean_[0]) / scaler.scale_[0]
    np.testing.assert_allclose(windows.x[0, :, 0], expected_x, rtol=1e-5)
    expected_y = np.log(closes[first + 1 : first + 5] / closes[first]) / target_divisors(scaler, 4)
    np.testing.assert_allclose(windows.y[0], expected_y, rtol=1e-5)


def test_too_short_splits_say_so(walk_features: pd.DataFrame) -> None:
    scaler = fit_scaler(walk_features, FRACTIONS)
    # Inputs may reach back into earlier splits; targets may not: 61 steps > every test split.
    build_windows(walk_features, scaler, FRACTIONS, "test", 60, 30)
    with pytest.raises(PreprocessError, match="no test windows"):
        build_windows(walk_features, scaler, FRACTIONS, "test", 10, 61)
