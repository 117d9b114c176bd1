"""The retrain policy: each trigger alone, the streak rule, and a reason for every decision."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.monitoring.accuracy import ACCURACY_COLUMNS
from stock_lstm.monitoring.drift import DRIFT_COLUMNS
from stock_lstm.monitoring.policy import (
    champion_age,
    cooling_triggers,
    retrain_decision,
    retrainable_end,
    trading_days_since,
    trigger_of,
)

POLICY = {
    "source": "shadow",
    "window": 20,
    "ratio_threshold": 1.05,
    "consecutive_days": 3,
    "min_scored": 10,
    "max_age_days": 250,
    "cooldown_days": 20,
}
DAYS = pd.bdate_range("2024-01-01", periods=6)  # Mon 01-01 .. Mon 01-08
AS_OF = DAYS[-1].date()


def _accuracy(ratios: list[float], *, n: int = 40, **keys: object) -> pd.DataFrame:
    """One row per trading day of DAYS (the last len(ratios) of them) for ticker AAA."""
    row = {"source": "shadow", "ticker": "AAA", "model_version": "v1", "window": 20, **keys}
    return pd.DataFrame(
        [
            {
                **row,
                "as_of": day,
                "n": n,
                "mae": r,
                "naive_mae": 1.0,
                "mae_ratio": r,
                "coverage": 0.9,
            }
            for day, r in zip(DAYS[-len(ratios) :], ratios, strict=True)
        ],
        columns=list(ACCURACY_COLUMNS),
    )


def _drift(flag: bool = False) -> pd.DataFrame:
    return pd.DataFrame(
        [["AAA", "abs_log_return", 500, 60, 0.4 if flag else 0.1, 0.0, 1.2, flag]],
        columns=list(DRIFT_COLUMNS),
    )


def test_nothing_wrong_keeps_the_champion_and_says_why() -> None:
    decision = retrain_decision(_accuracy([1.2, 1.2, 0.9]), _drift(), "v1", 100, AS_OF, POLICY)
    assert decision == {
        "kind": "retrain",
        "as_of": "2024-01-08",
        "model_version": "v1",
        "retrain": False,
        "reasons": [
            "no trigger: no ticker's 20-day MAE ratio to naive above 1.05 on 3 trading days "
            "in a row, no drift, champion 100 of at most 250 trading days older than the data "
            "a retrain could use"
        ],
    }


def test_n_bad_days_in_a_row_trigger_a_retrain() -> None:
    decision = retrain_decision(_accuracy([0.9, 1.1, 1.2, 1.3]), _drift(), "v1", 100, AS_OF, POLICY)
    assert decision["retrain"] is True
    assert decision["reasons"] == [
        "AAA: 20-day MAE ratio to naive above 1.05 on each of the last 3 trading days "
        "(latest 1.300 on 2024-01-08, 40 steps scored)"
    ]


@pytest.mark.parametrize(
    "accuracy",
    [
        _accuracy([1.1, 1.2]),  # only 2 days of history
        _accuracy([1.1, 1.2, 1.3], n=5),  # too few scored steps to trust the ratio
        _accuracy([1.1, 1.2, 1.3], source="api"),  # not the source that judges
        _accuracy([1.1, 1.2, 1.3], model_version="v0"),  # not the champion
        # not the policy's window (its own window is fine)
        pd.concat([_accuracy([1.1, 1.2, 1.3], window=60), _accuracy([0.5])], ignore_index=True),
    ],
)
def test_a_streak_counts_only_when_it_is_full_and_trustworthy(accuracy: pd.DataFrame) -> None:
    assert not retrain_decision(accuracy, _drift(), "v1", 100, AS_OF, POLICY)["retrain"]


def test_days_after_as_of_are_not_read() -> None:
    earlier = DAYS[-2].date()  # the 3 bad days end on AS_OF, so on the day before only 2 exist
    decision = retrain_decision(_accuracy([1.1, 1.2, 1.3]), _drift(), "v1", 100, earlier, POLICY)
    assert not decision["retrain"]


def test_drift_and_age_each_trigger_with_their_reason() -> None:
    drifted = retrain_decision(_accuracy([1.0]), _drift(flag=True), "v1", 100, AS_OF, POLICY)
    assert drifted["retrain"]
    assert drifted["reasons"] == [
        "AAA: abs_log_return drifted from the training period (KS 0.400, PSI 1.200; 60 recent "
        "vs 500 reference days)"
    ]
    old = retrain_decision(_accuracy([1.0]), _drift(), "v1", 251, AS_OF, POLICY)
    assert old["retrain"]
    assert old["reasons"] == [
        "champion v1 is more than 250 trading days older than the data a retrain could use "
        "(251 trading days)"
    ]


def test_every_trigger_is_listed() -> None:
    decision = retrain_decision(
        _accuracy([1.1, 1.2, 1.3]), _drift(flag=True), "v1", 300, AS_OF, POLICY
    )
    assert len(decision["reasons"]) == 3


def test_a_policy_window_that_was_not_computed_is_refused() -> None:
    with pytest.raises(InputError, match="window 20 is not one of the accuracy windows \\[60\\]"):
        retrain_decision(_accuracy([1.0], window=60), _drift(), "v1", 1, AS_OF, POLICY)


def test_missing_policy_parameters_are_named() -> None:
    params = {k: v for k, v in POLICY.items() if k != "max_age_days"}
    with pytest.raises(InputError, match="lack max_age_days"):
        retrain_decision(_accuracy([1.0]), _drift(), "v1", 1, AS_OF, params)


def test_a_policy_parameter_of_the_wrong_kind_is_named() -> None:
    params = {**POLICY, "ratio_threshold": None}
    with pytest.raises(
        InputError, match="policy parameter ratio_threshold must be a number, got None"
    ):
        retrain_decision(_accuracy([1.0]), _drift(), "v1", 1, AS_OF, params)


def test_trading_days_since_counts_any_tickers_dates() -> None:
    prices = pd.DataFrame(
        {
            "ticker": ["AAA", "AAA", "BBB", "BBB"],
            "date": ["2024-01-02", "2024-01-03", "2024-01-03", "2024-01-04"],
            "close": [1.0, 1.0, 1.0, 1.0],
        }
    )
    assert trading_days_since(prices, dt.date(2024, 1, 1), dt.date(2024, 1, 4)) == 3
    assert trading_days_since(prices, dt.date(2024, 1, 2), dt.date(2024, 1, 3)) == 1


def _calendar(ends: dict[str, str], start: str = "2012-01-02") -> pd.DataFrame:
    """Weekday bars of each ticker from `start` to its end."""
    return pd.DataFrame(
        [
            {"ticker": ticker, "date": day, "close": 1.0}
            for ticker, end in ends.items()
            for day in pd.bdate_range(start, end)
        ]
    )


def test_the_age_counts_only_data_a_retrain_could_use() -> None:
    # the snapshot's shape: GOOG stops years before the index; the split ends at GOOG's end
    prices = _calendar({"GOOG": "2013-03-01", "^GSPC": "2018-12-31"})
    assert champion_age(prices, dt.date(2013, 3, 1)) == 0
    # once every ticker has 3 newer bars, a retrain could use them
    prices = _calendar({"GOOG": "2013-03-06", "^GSPC": "2018-12-31"})
    assert champion_age(prices, dt.date(2013, 3, 1)) == 3


def _vain_retrain(as_of: str, *reasons: str, promoted: bool = False) -> dict:
    return {
        "kind": "promotion",
        "as_of": dt.date.fromisoformat(as_of),
        "model_version": "v2",
        "retrain": None,
        "promoted": promoted,
        "reasons": ["kept: not better", *(f"retrained because {r}" for r in reasons)],
    }


DRIFTED = (
    "AAA: abs_log_return drifted from the training period (KS 0.400, PSI 1.200; 60 recent vs "
    "500 reference days)"
)


def test_a_vain_retrain_is_not_repeated_for_the_same_reason_within_the_cooldown() -> None:
    prices = _calendar({"AAA": "2024-01-08"}, start="2023-12-01")
    # yesterday's retrain for the same drift (other figures) kept its candidate
    earlier = DRIFTED.replace("KS 0.400", "KS 0.390")
    cooling = cooling_triggers([_vain_retrain("2024-01-05", earlier)], prices, AS_OF, 20)
    assert cooling == {"AAA: abs_log_return drifted from the training period": dt.date(2024, 1, 5)}
    decision = retrain_decision(
        _accuracy([1.0]), _drift(flag=True), "v1", 100, AS_OF, POLICY, cooling
    )
    assert decision["retrain"] is False
    assert decision["reasons"] == [
        "AAA: abs_log_return drifted from the training period: not retrained again, the "
        "retrain of 2024-01-05 kept its candidate (cooldown 20 trading days)"
    ]
    # another trigger still retrains
    other = retrain_decision(
        _accuracy([1.1, 1.2, 1.3]), _drift(flag=True), "v1", 100, AS_OF, POLICY, cooling
    )
    assert other["retrain"] is True
    assert [r.split(" (")[0] for r in other["reasons"]] == [
        "AAA: 20-day MAE ratio to naive above 1.05 on each of the last 3 trading days"
    ]


@pytest.mark.parametrize(
    ("decision", "cooldown"),
    [
        (_vain_retrain("2024-01-05", DRIFTED, promoted=True), 20),  # it was better: promoted
        (_vain_retrain("2023-12-04", DRIFTED), 20),  # 25 trading days ago: cooled down
        (_vain_retrain("2024-01-05", DRIFTED), 0),  # no cooldown
    ],
)
def test_the_cooldown_ends(decision: dict, cooldown: int) -> None:
    prices = _calendar({"AAA": "2024-01-08"}, start="2023-12-01")
    assert cooling_triggers([decision], prices, AS_OF, cooldown) == {}


def test_cooling_reads_every_vain_retrain_in_the_window_and_keeps_each_triggers_newest() -> None:
    prices = _calendar({"AAA": "2024-01-08"}, start="2023-12-01")
    other = "AAA: 20-day MAE ratio to naive above 1.05 on each of the last 3 trading days (x)"
    decisions = [  # newest first, as crud.recent_decisions gives them
        _vain_retrain("2024-01-09", "AAA: later (after as_of)"),  # not yet: skipped
        {"kind": "retrain", "as_of": AS_OF, "retrain": True, "reasons": [DRIFTED]},
        _vain_retrain("2024-01-08", other),  # on as_of itself: 0 trading days ago
        _vain_retrain("2024-01-05", DRIFTED),
        _vain_retrain("2024-01-03", DRIFTED),  # the same trigger, earlier
    ]
    assert cooling_triggers(decisions, prices, AS_OF, 20) == {
        "AAA: 20-day MAE ratio to naive above 1.05 on each of the last 3 trading days": AS_OF,
        "AAA: abs_log_return drifted from the training period": dt.date(2024, 1, 5),
    }


def test_a_retrain_exactly_cooldown_days_ago_has_cooled_down() -> None:
    prices = _calendar({"AAA": "2024-01-08"}, start="2023-12-01")
    vain = _vain_retrain("2024-01-05", DRIFTED)  # 1 trading day before as_of (2024-01-08)
    assert cooling_triggers([vain], prices, AS_OF, 1) == {}
    assert list(cooling_triggers([vain], prices, AS_OF, 2)) == [trigger_of(DRIFTED)]


def test_a_trigger_is_the_reason_up_to_its_first_parenthesis() -> None:
    assert trigger_of("retrained because AAA: x (KS 0.4 (high)) y (z)") == "AAA: x"
    assert trigger_of("AAA: no figures") == "AAA: no figures"


def test_ratio_reasons_come_in_ticker_order() -> None:
    bad = [1.1, 1.2, 1.3]
    accuracy = pd.concat([_accuracy(bad, ticker="MSFT"), _accuracy(bad)], ignore_index=True)
    decision = retrain_decision(accuracy, _drift(), "v1", 10, AS_OF, POLICY)
    assert [r.split(":")[0] for r in decision["reasons"]] == ["AAA", "MSFT"]


def test_prices_without_their_columns_are_named() -> None:
    with pytest.raises(InputError, match=r"^prices lacks column\(s\) date$"):
        trading_days_since(pd.DataFrame({"close": [1.0]}), dt.date(2024, 1, 1), AS_OF)
    with pytest.raises(InputError, match=r"^prices lacks column\(s\) ticker$"):
        retrainable_end(pd.DataFrame({"date": [AS_OF]}))


@pytest.mark.parametrize("name", ["window", "consecutive_days", "min_scored", "max_age_days"])
def test_each_count_of_the_policy_must_be_at_least_one(name: str) -> None:
    message = (
        r"^monitoring policy window, consecutive_days, min_scored and max_age_days must be >= 1$"
    )
    with pytest.raises(InputError, match=message):
        retrain_decision(_accuracy([1.0]), _drift(), "v1", 10, AS_OF, {**POLICY, name: 0})
    ones = {**POLICY, "consecutive_days": 1, "min_scored": 1, "max_age_days": 1}
    assert retrain_decision(_accuracy([1.0]), _drift(), "v1", 1, AS_OF, ones)["retrain"] is False


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("cooldown_days", -1, r"^monitoring policy cooldown_days must be >= 0, got -1$"),
        ("ratio_threshold", 0.0, r"^monitoring policy ratio_threshold must be > 0, got 0.0$"),
    ],
)
def test_a_negative_cooldown_or_a_zero_threshold_is_named(name, value, message) -> None:
    with pytest.raises(InputError, match=message):
        retrain_decision(_accuracy([1.0]), _drift(), "v1", 10, AS_OF, {**POLICY, name: value})


def test_frames_without_their_columns_are_named() -> None:
    with pytest.raises(InputError, match=r"^accuracy lacks column\(s\) coverage$"):
        retrain_decision(
            _accuracy([1.0]).drop(columns="coverage"), _drift(), "v1", 1, AS_OF, POLICY
        )
    with pytest.raises(InputError, match=r"^drift lacks column\(s\) flag$"):
        retrain_decision(_accuracy([1.0]), _drift().drop(columns="flag"), "v1", 1, AS_OF, POLICY)


def test_windows_stored_as_text_are_read_as_numbers() -> None:
    accuracy = _accuracy([1.1, 1.2, 1.3]).astype({"window": str})
    decision = retrain_decision(accuracy, _drift(), "v1", 10, AS_OF, POLICY)
    assert decision["retrain"] is True and decision["reasons"][0].startswith("AAA: 20-day")


def test_a_champion_exactly_max_age_days_old_is_not_too_old() -> None:
    decision = retrain_decision(_accuracy([1.0]), _drift(), "v1", 250, AS_OF, POLICY)
    assert decision["retrain"] is False
    older = retrain_decision(_accuracy([1.0]), _drift(), "v1", 251, AS_OF, POLICY)
    assert older["retrain"] is True


def test_a_ratio_at_the_threshold_is_not_a_bad_day() -> None:
    decision = retrain_decision(_accuracy([1.05, 1.05, 1.05]), _drift(), "v1", 10, AS_OF, POLICY)
    assert decision["retrain"] is False


def test_a_ratio_threshold_below_one_is_allowed() -> None:
    strict = {**POLICY, "ratio_threshold": 0.9}  # worse than 0.9 x naive's error is bad
    assert retrain_decision(_accuracy([0.95] * 3), _drift(), "v1", 10, AS_OF, strict)["retrain"]
