"""The dates of forecast steps: the exchange's next trading sessions, holidays skipped.

The sessions come from `exchange-calendars` (New York Stock Exchange, "XNYS", where the bundled
tickers trade), computed once per process on first use, from FIRST_SESSION to a year ahead:
importing this module imports nothing heavy, and a forecast's dates are an array lookup. Past
the calendar's end the steps continue on weekdays.

exchange-calendars needs pandas. A process that has not imported pandas (an API worker, which
serves from arrays) gets the sessions from a short-lived child process instead, so it never
maps pandas (~70 MiB) for one array; a process that has (a pipeline) computes them itself.
"""

from __future__ import annotations

import datetime as dt
import functools
import subprocess
import sys
import threading

import numpy as np

EXCHANGE = "XNYS"
FIRST_SESSION = "1990-01-02"  # the oldest bundled data (the S&P 500 set)


_COMPUTING = threading.Lock()  # one computation per process, whichever thread asks first

# Run by the child process: the sessions as int64 days since the epoch, on stdout.
_CHILD = (
    "import sys, exchange_calendars; "
    "c = exchange_calendars.get_calendar(sys.argv[1], start=sys.argv[2]); "
    "sys.stdout.buffer.write(c.sessions.to_numpy().astype('datetime64[D]').astype('<i8').tobytes())"
)


@functools.cache
def _sessions() -> np.ndarray:
    """Every session of EXCHANGE from FIRST_SESSION to the calendar's default end (a year
    from today), as sorted datetime64[D]."""
    if "pandas" not in sys.modules:
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, EXCHANGE, FIRST_SESSION],
            capture_output=True,
            timeout=120,
            check=False,
        )
        if child.returncode == 0 and child.stdout:
            return np.frombuffer(child.stdout, dtype="<i8").astype("datetime64[D]")
    import exchange_calendars  # here, or the child's error again with its traceback

    calendar = exchange_calendars.get_calendar(EXCHANGE, start=FIRST_SESSION)
    return calendar.sessions.to_numpy().astype("datetime64[D]")


def warm_up() -> None:
    """Compute the sessions in a background thread now (the API's start-up), so the first
    forecast with dates does not wait for them."""
    threading.Thread(target=_loaded_sessions, name="trading-calendar", daemon=True).start()


def _loaded_sessions() -> np.ndarray:
    with _COMPUTING:
        return _sessions()


def next_sessions(last: dt.date, count: int) -> list[dt.date]:
    """The `count` trading sessions after `last` (a session or not)."""
    sessions, day = _loaded_sessions(), np.datetime64(last, "D")
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
