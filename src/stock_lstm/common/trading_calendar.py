"""The dates of forecast steps: the exchange's next trading sessions, holidays skipped.

The sessions come from `exchange-calendars` (New York Stock Exchange, "XNYS", where the bundled
tickers trade), computed once per process on first use, from FIRST_SESSION to a year ahead:
importing this module imports nothing heavy, and a forecast's dates are an array lookup. Past
the calendar's end the steps continue on weekdays.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np

EXCHANGE = "XNYS"
FIRST_SESSION = "1990-01-02"  # the oldest bundled data (the S&P 500 set)


@functools.cache
def _sessions() -> np.ndarray:
    """Every session of EXCHANGE from FIRST_SESSION to the calendar's default end (a year
    from today), as sorted datetime64[D]."""
    import exchange_calendars

    calendar = exchange_calendars.get_calendar(EXCHANGE, start=FIRST_SESSION)
    return calendar.sessions.to_numpy().astype("datetime64[D]")


def next_sessions(last: dt.date, count: int) -> list[dt.date]:
    """The `count` trading sessions after `last` (a session or not)."""
    sessions, day = _sessions(), np.datetime64(last, "D")
    if day < sessions[0]:  # before the calendar: weekdays
        return (
            np.busday_offset(day, np.arange(1, count + 1), roll="forward").astype(object).tolist()
        )
    start = int(np.searchsorted(sessions, day, side="right"))
    known = sessions[start : start + count]
    if len(known) < count:  # beyond the calendar: weekdays after its last known day
        after = known[-1] if len(known) else np.datetime64(last, "D")
        extra = np.busday_offset(after, np.arange(1, count - len(known) + 1), roll="forward")
        known = np.concatenate([known, extra])
    return known.astype(object).tolist()
