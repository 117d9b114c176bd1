"""Forecast steps fall on trading sessions: market holidays and weekends are skipped, the
sessions are computed once per process, and importing the module stays cheap (the API)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from stock_lstm.common import trading_calendar
from stock_lstm.common.trading_calendar import next_sessions


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        # ^GSPC's last bundled close: New Year's Day is no session
        ("2018-12-31", ["2019-01-02", "2019-01-03", "2019-01-04", "2019-01-07"]),
        ("2018-11-21", ["2018-11-23", "2018-11-26"]),  # Thanksgiving
        ("2018-03-29", ["2018-04-02"]),  # Good Friday
        ("2012-10-26", ["2012-10-31"]),  # the exchange closed for Hurricane Sandy
        ("2018-12-29", ["2018-12-31", "2019-01-02"]),  # from a Saturday
    ],
)
def test_steps_skip_weekends_and_market_holidays(last: str, expected: list[str]) -> None:
    assert next_sessions(d(last), len(expected)) == [d(e) for e in expected]


def test_beyond_the_calendar_the_steps_continue_on_weekdays() -> None:
    end = trading_calendar._sessions()[-1].astype(object)
    steps = next_sessions(end - dt.timedelta(days=1), 4)
    assert steps[0] == end and all(s.weekday() < 5 for s in steps)
    assert steps == sorted(set(steps)) and len(steps) == 4
    assert next_sessions(d("1985-01-04"), 2) == [d("1985-01-07"), d("1985-01-08")]


def test_the_sessions_are_computed_once() -> None:
    next_sessions(d("2018-12-31"), 5)
    before = trading_calendar._sessions.cache_info()
    for _ in range(100):
        next_sessions(d("2018-12-31"), 30)
    after = trading_calendar._sessions.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 100


def test_importing_it_does_not_import_the_calendar_library() -> None:
    code = (
        "import sys, stock_lstm.common.trading_calendar, stock_lstm.api.v1.services.forecasts;"
        "print('exchange_calendars' in sys.modules)"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.stdout.strip() == "False", completed.stderr
