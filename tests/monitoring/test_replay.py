"""Replay of the daily loop over the real snapshot, day by day into autumn 2008, with a
stand-in model: forecasts are scored once their targets exist, shadow forecasts exist for days
without traffic, the rolling figures equal a computation done here independently, and the
drift flag rises on GOOG (the last ticker to turn) so the policy retrains, saying why."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from stock_lstm.common.errors import InputError
from stock_lstm.monitoring.daily import Champion, DayOfMonitoring, monitor_day
from stock_lstm.monitoring.scoring import FORECAST_COLUMNS, combine_forecasts
from tests.monitoring.conftest import forecast_rows, snapshot_features

PARAMETERS = Path(__file__).resolve().parents[2] / "conf" / "base" / "parameters_monitoring.yml"
STEPS = 5
REPLAY_DAYS = 35
LAST_DAY = pd.Timestamp("2008-11-28")
TRAFFIC_EVERY = 7  # an API forecast for MSFT on every 7th replayed day, one from a sent history


def drift_model(ticker: str, history: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stand-in: the last 20 days' mean log return carried forward, a 90% normal band."""
    returns = np.diff(np.log(history[-21:]))
    steps = np.arange(1, STEPS + 1)
    close = history[-1] * np.exp(returns.mean() * steps)
    spread = np.exp(1.645 * returns.std() * np.sqrt(steps))
    return close, close / spread, close * spread


CHAMPION = Champion(
    model_version="v-calm",
    forecast=drift_model,
    min_history=21,
    reference_start=dt.date(2004, 9, 1),
    reference_end=dt.date(2007, 1, 1),
    trained_through=dt.date(2007, 12, 31),
)


def _api_forecasts(features: pd.DataFrame, day: pd.Timestamp, number: int) -> pd.DataFrame:
    msft = features[(features["ticker"] == "MSFT") & (features["date"] <= day)]
    close, _, _ = drift_model("MSFT", msft["close"].to_numpy())
    rows = forecast_rows(
        f"{number}", "MSFT", f"{day:%Y-%m-%d}", list(close), model_version="v-calm"
    )
    rows += forecast_rows(f"{number}-sent", None, None, [1.0, 2.0], model_version="v-calm")
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return snapshot_features()


@pytest.fixture(scope="module")
def replay(features: pd.DataFrame) -> tuple[list[pd.Timestamp], list[DayOfMonitoring]]:
    params = yaml.safe_load(PARAMETERS.read_text())["monitoring"]
    calendar = np.sort(features["date"].unique())
    days = [pd.Timestamp(d) for d in calendar[calendar <= LAST_DAY.to_datetime64()][-REPLAY_DAYS:]]
    stored = pd.DataFrame({c: [] for c in FORECAST_COLUMNS})
    logged = pd.DataFrame({c: [] for c in FORECAST_COLUMNS})
    results = []
    for number, day in enumerate(days):
        if number % TRAFFIC_EVERY == 0:
            logged = pd.concat([logged, _api_forecasts(features, day, number)], ignore_index=True)
        known = features[features["date"] <= day]  # ingestion.end stepped day by day
        result = monitor_day(CHAMPION, known, logged, stored, params)
        stored = combine_forecasts(stored, result.shadow)
        results.append(result)
    return days, results


def test_a_shadow_forecast_every_day_for_every_ticker(replay) -> None:
    days, results = replay
    for day, result in zip(days, results, strict=True):
        assert result.as_of == day.date()
        made = result.shadow.drop_duplicates("forecast_id")
        assert sorted(made["ticker"]) == ["GOOG", "MSFT", "^GSPC"]
        assert (made["origin_date"] == day).all()
        assert (result.shadow.groupby("forecast_id").size() == STEPS).all()


def test_forecasts_are_scored_once_their_targets_exist(replay) -> None:
    days, results = replay
    final = results[-1].scored
    shadow = final.forecasts[final.forecasts["source"] == "shadow"]
    age = shadow["origin_date"].map({d: len(days) - 1 - i for i, d in enumerate(days)})
    # a forecast made a days ago has min(a, STEPS) of its steps scored today
    assert (shadow["n_scored"] == np.minimum(age, STEPS)).all()
    counts = final.status_counts()
    traffic_days = len(range(0, REPLAY_DAYS, TRAFFIC_EVERY))
    assert counts["no_ticker"] == traffic_days  # the sent histories: counted, never scored
    api_scored = final.forecasts[(final.forecasts["source"] == "api")]["status"]
    assert (api_scored[final.forecasts["ticker"].notna()] == "scored").all()
    # a step is scored on the day its target closes, not before
    for result, day in zip(results, days, strict=True):
        assert (result.scored.steps["target_date"] <= day).all()


def test_rolling_figures_equal_an_independent_computation(replay, features) -> None:
    days, results = replay
    final, as_of = results[-1], days[-1]
    forecasts = combine_forecasts(
        pd.concat([r.shadow for r in results[:-1]], ignore_index=True), final.shadow
    )
    for ticker in ("GOOG", "MSFT", "^GSPC"):
        series = features[features["ticker"] == ticker].set_index("date")["close"]
        dates = list(series.index)
        window = set(dates[dates.index(as_of) - 19 : dates.index(as_of) + 1])  # 20 trading days
        errors, naive, inside = [], [], []
        for row in forecasts[forecasts["ticker"] == ticker].itertuples():
            origin = dates.index(row.origin_date)
            if origin + row.step >= len(dates) or dates[origin + row.step] not in window:
                continue
            actual = series.iloc[origin + row.step]
            errors.append(abs(actual - row.close))
            naive.append(abs(actual - series.iloc[origin]))
            inside.append(row.lower <= actual <= row.upper)
        figures = final.accuracy[
            (final.accuracy["ticker"] == ticker)
            & (final.accuracy["source"] == "shadow")
            & (final.accuracy["window"] == 20)
            & (final.accuracy["as_of"] == as_of)
        ].iloc[0]
        assert figures["n"] == len(errors) > 0
        assert figures["mae"] == pytest.approx(np.mean(errors))
        assert figures["naive_mae"] == pytest.approx(np.mean(naive))
        assert figures["mae_ratio"] == pytest.approx(np.mean(errors) / np.mean(naive))
        assert figures["coverage"] == pytest.approx(np.mean(inside))


def test_autumn_2008_raises_the_drift_flag_and_the_policy_retrains(replay) -> None:
    days, results = replay
    goog = [
        bool(r.drift[r.drift["ticker"] == "GOOG"]["flag"].any()) for r in results
    ]  # GOOG turns last: calm at the start of the replay, drifting by its end
    assert goog[0] is False and goog[-1] is True
    decision = results[-1].decision
    assert decision["retrain"] is True
    assert decision["as_of"] == "2008-11-28"
    assert any(reason.startswith("GOOG: ") for reason in decision["reasons"])
    # trained through 2007-12-31: 231 trading days old on 2008-11-28, under max_age_days 250
    age_reasons = [r for r in decision["reasons"] if "than the data a retrain could use" in r]
    assert age_reasons == []


def test_an_old_champion_is_retrained_for_its_age(features) -> None:
    params = yaml.safe_load(PARAMETERS.read_text())["monitoring"]
    known = features[features["date"] <= LAST_DAY]
    old = Champion(**{**CHAMPION.__dict__, "trained_through": dt.date(2007, 11, 14)})
    empty = pd.DataFrame({c: [] for c in FORECAST_COLUMNS})
    reasons = monitor_day(old, known, empty, empty, params).decision["reasons"]
    # 2007-11-15 .. 2008-11-28: 262 trading days
    assert (
        "champion v-calm is more than 250 trading days older than the data a retrain could use "
        "(262 trading days)"
    ) in reasons


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"features": lambda f: f.iloc[0:0]}, "features has no rows"),
        ({"features": lambda f: f.drop(columns="log_return")}, "features lacks column"),
        ({"logged": lambda f: f.drop(columns="upper")}, "logged forecasts lacks column.*upper"),
        ({"params": lambda p: {k: v for k, v in p.items() if k != "drift"}}, "lack drift"),
    ],
)
def test_bad_inputs_are_named(features, change, message) -> None:
    inputs = {
        "features": features[features["date"] <= LAST_DAY],
        "logged": pd.DataFrame({c: [] for c in FORECAST_COLUMNS}),
        "params": yaml.safe_load(PARAMETERS.read_text())["monitoring"],
    }
    for name, alter in change.items():
        inputs[name] = alter(inputs[name])
    empty = pd.DataFrame({c: [] for c in FORECAST_COLUMNS})
    with pytest.raises(InputError, match=message):
        monitor_day(CHAMPION, inputs["features"], inputs["logged"], empty, inputs["params"])
