"""Twenty trading days of the retrain policy with the retrain stubbed as "candidate not better":
each distinct reason retrains once, then waits out `monitoring.policy.cooldown_days` (the
parameter of conf/base/parameters_monitoring.yml). The real 5-day replay is
tests/pipelines/daily/test_retrain_cooldown.py; 20 real days would take minutes."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from stock_lstm.common.trading_calendar import next_sessions
from stock_lstm.monitoring.accuracy import ACCURACY_COLUMNS
from stock_lstm.monitoring.drift import DRIFT_COLUMNS
from stock_lstm.monitoring.policy import (
    RETRAINED_BECAUSE,
    cooling_triggers,
    retrain_decision,
    trigger_of,
)

PARAMETERS = Path(__file__).resolve().parents[2] / "conf" / "base" / "parameters_monitoring.yml"
POLICY = yaml.safe_load(PARAMETERS.read_text())["monitoring"]["policy"]
# 20 sessions of the exchange calendar, Thanksgiving and Christmas 2018 among them
DAYS = next_sessions(dt.date(2018, 11, 15), 20)
NEW_DRIFT_FROM = 10  # a second ticker drifts from the 11th day: a new, distinct reason


def _accuracy(days: list[dt.date]) -> pd.DataFrame:
    """AAA's MAE ratio above the threshold on every day so far: the ratio trigger holds daily."""
    return pd.DataFrame(
        [
            {
                "as_of": pd.Timestamp(day),
                "source": POLICY["source"],
                "ticker": "AAA",
                "model_version": "v1",
                "window": POLICY["window"],
                "n": POLICY["min_scored"],
                "mae": 2.0,
                "naive_mae": 1.0,
                "mae_ratio": 2.0,
                "coverage": 0.9,
            }
            for day in days
        ],
        columns=list(ACCURACY_COLUMNS),
    )


def _drift(day_index: int) -> pd.DataFrame:
    drifted = ["AAA"] + (["BBB"] if day_index >= NEW_DRIFT_FROM else [])
    return pd.DataFrame(
        [[t, "abs_log_return", 500, 60, 0.6, 0.0, 1.5, True] for t in drifted],
        columns=list(DRIFT_COLUMNS),
    )


def replay(policy: dict[str, Any]) -> tuple[Counter[str], list[str]]:
    """The 20 days: each day's decision from the stored decisions so far; a retrain stores a
    kept candidate (not better), as `python -m stock_lstm.cli.daily` records it."""
    prices = pd.DataFrame({"ticker": "AAA", "date": pd.to_datetime(DAYS)})
    decisions: list[dict[str, Any]] = []
    retrains: Counter[str] = Counter()
    log = []
    for index, day in enumerate(DAYS):
        cooling = cooling_triggers(decisions, prices, day, policy["cooldown_days"])
        decision = retrain_decision(
            _accuracy(DAYS[: index + 1]),
            _drift(index),
            "v1",
            policy["max_age_days"] + 1 if index < 3 else 0,  # too old until new data came
            day,
            policy,
            cooling,
        )
        log.append(f"{day} {decision['retrain']} {decision['reasons']}")
        if decision["retrain"]:
            retrains.update(trigger_of(r) for r in decision["reasons"])
            decisions.append(
                {
                    "kind": "promotion",
                    "as_of": day.isoformat(),
                    "model_version": f"candidate-{index}",
                    "promoted": False,
                    "reasons": [
                        "kept: the candidate is not better than the champion",
                        *(f"{RETRAINED_BECAUSE}{r}" for r in decision["reasons"]),
                    ],
                }
            )
    return retrains, log


def test_twenty_days_retrain_at_most_once_per_reason() -> None:
    assert POLICY["cooldown_days"] >= len(DAYS)  # the parameter the property rests on
    retrains, log = replay(POLICY)
    report = "\n".join(log)
    assert dt.date(2018, 11, 22) not in DAYS and dt.date(2018, 12, 25) not in DAYS
    # every distinct reason retrained once: the streak, the two drifts and the age
    assert set(retrains) == {
        f"AAA: {POLICY['window']}-day MAE ratio to naive above {POLICY['ratio_threshold']:g} on "
        f"each of the last {POLICY['consecutive_days']} trading days",
        "AAA: abs_log_return drifted from the training period",
        "BBB: abs_log_return drifted from the training period",
        f"champion v1 is more than {POLICY['max_age_days']} trading days older than the data a "
        "retrain could use",
    }, report
    assert max(retrains.values()) == 1, report
    # a day that only waits says which retrain it waits on
    assert any("not retrained again, the retrain of 2018-11-" in line for line in log), report


@pytest.mark.parametrize("cooldown", [0, 5])
def test_a_shorter_cooldown_retrains_again(cooldown: int) -> None:
    retrains, log = replay({**POLICY, "cooldown_days": cooldown})
    assert max(retrains.values()) > 1, "\n".join(log)
