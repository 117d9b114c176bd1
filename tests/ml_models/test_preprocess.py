"""Features, the chronological split, the no-leak scaler and window/target alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_lstm.ml_models.common.scaling import fit_scaler, target_divisors
from stock_lstm.ml_models.common.series import PreprocessError, add_log_returns
from stock_lstm.ml_models.common.splits import assign_splits, split_dates
from stock_lstm.ml_models.common.windows import (
    build_windows,
    cumulative_targets,
    histories,
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


def frame(calendars: dict[str, pd.DatetimeIndex]) -> pd.DataFrame:
    """Features of tickers on the given calendars (closes: any positive walk)."""
    parts = [
        pd.DataFrame({"ticker": t, "date": d, "close": 100.0 + np.arange(len(d)) % 7})
        for t, d in calendars.items()
    ]
    return add_log_returns(pd.concat(parts, ignore_index=True))


def test_one_shared_calendar_gives_the_per_ticker_row_split() -> None:
    dates = pd.bdate_range("2010-01-01", periods=1000)
    features = frame({"A": dates, "B": dates})
    cutoffs = split_dates(features, FRACTIONS)
    assert cutoffs.validation_start == dates[700] and cutoffs.test_start == dates[850]
    bounds = cutoffs.bounds(dates.to_numpy())
    assert bounds.rows("train") == (0, 700)
    assert bounds.rows("validation") == (700, 850)
    assert bounds.rows("test") == (850, 1000)
    assert cutoffs.as_dict()["validation_start"] == f"{dates[700]:%Y-%m-%d}"


def test_tickers_on_different_calendars_share_the_cut_off_dates() -> None:
    """LONG runs 2000-2009, SHORT only 2003-2004 (ends early): per-ticker row counts would put
    SHORT's test period inside LONG's training rows. The cut-offs come from the common period
    (SHORT's 520 days): positions 364 and 442."""
    long = pd.bdate_range("2000-01-03", "2009-12-31")
    short = pd.bdate_range("2003-01-01", periods=520)
    features = frame({"LONG": long, "SHORT": short})
    cutoffs = split_dates(features, FRACTIONS)
    assert (cutoffs.common_start, cutoffs.common_end) == (short[0], short[-1])
    assert cutoffs.validation_start == short[364] and cutoffs.test_start == short[442]
    split = assign_splits(features, FRACTIONS)
    dates = {s: split.loc[split["split"] == s, "date"] for s in ("train", "validation", "test")}
    assert dates["train"].max() < dates["validation"].min()
    assert dates["validation"].max() < dates["test"].min()
    assert dates["train"].max() < dates["test"].min()
    # LONG's test runs from the cut-off to its own end; its training rows stop at the cut-off.
    long_rows = split[split["ticker"] == "LONG"]
    assert long_rows.loc[long_rows["split"] == "test", "date"].max() == long[-1]
    assert (long_rows.loc[long_rows["split"] == "train", "date"] < short[364]).all()
    assert (split["split"] == "train").sum() == np.searchsorted(long, short[364]) + 364


def test_no_common_period_or_a_too_short_one_names_the_tickers() -> None:
    early = pd.bdate_range("2000-01-03", periods=50)
    late = pd.bdate_range("2005-01-03", periods=50)
    with pytest.raises(PreprocessError, match=r"no common period: LATE starts on 2005-01-03"):
        split_dates(frame({"EARLY": early, "LATE": late}), FRACTIONS)
    with pytest.raises(PreprocessError, match=r"2 trading day\(s\); tickers A, B\) is too short"):
        split_dates(frame({"A": early[:2], "B": early[:2]}), FRACTIONS)


def test_a_ticker_without_rows_in_a_split_is_named() -> None:
    dates = pd.bdate_range("2010-01-01", periods=100)
    gappy = dates[:70].append(dates[86:])  # nothing between the two cut-offs (70 and 85)
    with pytest.raises(PreprocessError, match="ticker\\(s\\) GAPPY have no rows in the validation"):
        split_dates(frame({"FULL": dates, "GAPPY": gappy}), FRACTIONS)


@pytest.mark.parametrize(
    "fractions",
    [{"train": 0.8, "validation": 0.15, "test": 0.15}, {"train": 1.0, "validation": 0, "test": 0}],
)
def test_bad_split_fractions_are_refused(
    fractions: dict[str, float], walk_features: pd.DataFrame
) -> None:
    with pytest.raises(PreprocessError, match="split fractions"):
        split_dates(walk_features, fractions)


def test_scaler_statistics_are_the_training_rows_alone(walk_features: pd.DataFrame) -> None:
    """AAA (400 rows) and BBB (300) share one calendar from 2001-01-01: the common period is
    BBB's 300 days, so training is rows 0..209 of each (their returns: rows 1..209)."""
    scaler = fit_scaler(walk_features, FRACTIONS)
    returns = [
        np.diff(np.log(walk_features.loc[walk_features["ticker"] == t, "close"].to_numpy()[:210]))
        for t in ("AAA", "BBB")
    ]
    train = np.concatenate(returns)
    assert train.size == 2 * 209
    assert scaler.mean_[0] == pytest.approx(train.mean(), rel=1e-12)
    assert scaler.scale_[0] == pytest.approx(train.std(), rel=1e-12)
    # Whatever happens from the validation cut-off on cannot move the scaler.
    shocked = walk_features.copy()
    later = shocked["date"] >= pd.bdate_range("2001-01-01", periods=211)[210]
    shocked.loc[later, "close"] = shocked.loc[later, "close"] * np.linspace(1, 50, later.sum())
    shocked = add_log_returns(shocked.drop(columns=["log_return"]))
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
    origins = window_origins(start=70, end=85, window=5, horizon=3)
    assert origins.min() == 70 and origins.max() == 81  # 81 + 3 = 84, the last row of the split
    assert window_origins(start=0, end=70, window=60, horizon=30).size == 0
    assert window_origins(start=0, end=70, window=10, horizon=5)[0] == 10


def test_build_windows_scales_inputs_and_targets(walk_features: pd.DataFrame) -> None:
    scaler = fit_scaler(walk_features, FRACTIONS)
    windows = build_windows(walk_features, scaler, FRACTIONS, "validation", 10, 4)
    closes = walk_features.loc[walk_features["ticker"] == "AAA", "close"].to_numpy()
    # Validation = rows 210..254 of each ticker (the common period is BBB's 300 days): origins
    # 210..250, the last one's step-4 target being row 254.
    assert (windows.tickers == "AAA").sum() == 41 and (windows.tickers == "BBB").sum() == 41
    first = 210
    returns = np.diff(np.log(closes[first - 10 : first + 1]))
    expected_x = (returns - scaler.mean_[0]) / scaler.scale_[0]
    np.testing.assert_allclose(windows.x[0, :, 0], expected_x, rtol=1e-5)
    expected_y = np.log(closes[first + 1 : first + 5] / closes[first]) / target_divisors(scaler, 4)
    np.testing.assert_allclose(windows.y[0], expected_y, rtol=1e-5)
    last = np.log(closes[254] / closes[250]) / target_divisors(scaler, 4)[-1]
    assert windows.y[40, -1] == pytest.approx(last, rel=1e-5)


def test_too_short_splits_say_so(walk_features: pd.DataFrame) -> None:
    scaler = fit_scaler(walk_features, FRACTIONS)
    # Inputs may reach back into earlier splits; targets may not. Test rows: AAA 255..399
    # (145), BBB 255..299 (45): 150 steps fit in neither.
    build_windows(walk_features, scaler, FRACTIONS, "test", 60, 30)
    with pytest.raises(PreprocessError, match="no test windows"):
        build_windows(walk_features, scaler, FRACTIONS, "test", 10, 150)
