"""Fakes of yfinance 1.7's download(), shaped exactly as it returns frames and failures."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

OFFLINE = (
    "['{t}']: DNSError('Failed to perform, curl: (6) Could not resolve host: "
    "query2.finance.yahoo.com. See https://curl.se/libcurl/c/libcurl-errors.html first for "
    "more details.')"
)
DELISTED = "['{t}']: YFPricesMissingError('possibly delisted; no price data found (1d)')"


def yahoo_history(days: int = 5, start: str = "2024-01-02", tz: str | None = None):
    """One ticker's `Ticker.history(auto_adjust=False)` frame: what download() concatenates."""
    index = pd.bdate_range(start, periods=days, name="Date", tz=tz)
    close = 100.0 + np.arange(days)
    return pd.DataFrame(
        {
            "Open": close - 0.5,
            "High": close + 1.0,
            "Low": close - 1.0,
            "Close": close,
            "Adj Close": close * 0.98,
            "Volume": np.arange(days, dtype="int64") * 1_000 + 5_000,
        },
        index=index,
    )


def yahoo_download(ticker: str, history: pd.DataFrame) -> pd.DataFrame:
    """yfinance 1.7 download(): columns (Price, Ticker) MultiIndex, sorted by price name."""
    data = pd.concat([history], axis=1, keys=[ticker.upper()], names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(level=0, axis=1)


def yahoo_failure(ticker: str, message: str) -> pd.DataFrame:
    """What download() returns after a failure: empty rows, the columns, an error logged."""
    logging.getLogger("yfinance").error("\n1 Failed download:")
    logging.getLogger("yfinance").error(message.format(t=ticker.upper()))
    empty = pd.DataFrame(
        columns=["Open", "High", "Low", "Close", "Adj Close", "Volume"],
        index=pd.DatetimeIndex([], name="Date", dtype="datetime64[s]"),
    )
    return yahoo_download(ticker, empty)


class FakeYahoo:
    """Stands in for yf.download: per ticker a history frame or a failure message."""

    def __init__(self, **answers):
        self.answers = answers
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, tickers, **kwargs):
        self.calls.append((tickers, kwargs))
        answer = self.answers.get(tickers, DELISTED)
        if isinstance(answer, str):
            return yahoo_failure(tickers, answer)
        return yahoo_download(tickers, answer)


class RangedYahoo:
    """yf.download over a fixed history that honours start and (exclusive) end, like Yahoo."""

    def __init__(self, history: pd.DataFrame) -> None:
        self.history = history
        self.starts: list[str] = []

    def __call__(self, tickers, **kwargs):
        self.starts.append(kwargs["start"])
        rows = self.history[self.history.index >= pd.Timestamp(kwargs["start"])]
        if kwargs.get("end"):
            rows = rows[rows.index < pd.Timestamp(kwargs["end"])]
        return yahoo_download(tickers, rows)
