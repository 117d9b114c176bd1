"""Yahoo Finance through yfinance, one ticker per call so each failure is the ticker's own.

yfinance 1.7 never raises for a failed download: it logs the reason and returns an EMPTY frame
(offline, for an unknown ticker, for a range with no bars). Its log records are captured here and
turned into a `SourceError` that names the ticker and the reason. A network failure raises
`YahooUnreachable`, so a caller can stop asking for the other tickers at once.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import yfinance as yf

from stock_lstm.data_pipeline.schema import stage_frame
from stock_lstm.data_pipeline.sources.base import SourceError, canonical_prices

DEFAULT_TIMEOUT_S = 10.0
# yfinance's column names -> canonical names (auto_adjust=False keeps "Adj Close" apart).
COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
REQUIRED = ("Open", "High", "Low", "Close", "Volume")
# Fragments of yfinance's (curl's) messages that mean "the network", not "this ticker".
NETWORK_HINTS = (
    "DNSError",
    "Could not resolve",
    "curl: (",
    "timed out",
    "Timeout",
    "ConnectionError",
    "Connection refused",
    "Network is unreachable",
)


class YahooUnreachable(SourceError):
    """Yahoo Finance cannot be reached at all: every other ticker would fail the same way."""


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().strip()
        if message and not message.endswith("Failed download:"):
            self.messages.append(" ".join(message.split()))


@contextmanager
def _captured_yfinance_log() -> Iterator[_Capture]:
    """yfinance's own error lines, kept for our message instead of echoed to the console."""
    yf_logger = logging.getLogger("yfinance")
    capture = _Capture()
    propagate = yf_logger.propagate
    yf_logger.addHandler(capture)
    yf_logger.propagate = False
    try:
        with warnings.catch_warnings():
            # pandas deprecation noise from inside yfinance, not ours to fix
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"yfinance")
            yield capture
    finally:
        yf_logger.removeHandler(capture)
        yf_logger.propagate = propagate


def fetch_ticker(
    ticker: str,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp | None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> pd.DataFrame:
    """`ticker`'s daily bars from start to end (inclusive), unadjusted, with Adj Close apart."""
    with _captured_yfinance_log() as capture:
        try:
            response = yf.download(
                ticker,
                start=start.strftime("%Y-%m-%d"),
                # yfinance's end is exclusive; ours is inclusive
                end=(end + pd.Timedelta(days=1)).strftime("%Y-%m-%d") if end is not None else None,
                interval="1d",
                auto_adjust=False,
                actions=False,
                progress=False,
                threads=False,
                timeout=timeout,
                multi_level_index=True,
            )
        except Exception as error:  # yfinance normally logs instead; never let it escape raw
            capture.messages.append(f"{type(error).__name__}: {error}")
            response = None
    if response is None or response.empty:
        everything = " ".join(capture.messages)
        unreachable = any(hint in everything for hint in NETWORK_HINTS)
        error_type = YahooUnreachable if unreachable else SourceError
        raise error_type(f"yfinance returned no data for {ticker}: {_reason(capture.messages)}")
    return from_download(response, ticker)


def _reason(messages: list[str]) -> str:
    """yfinance's last line ("['T']: Error('...')") without the ticker list and the URL advice."""
    if not messages:
        return "no rows returned"
    last = re.sub(r"^\[[^\]]*\]:\s*", "", messages[-1])
    return last.split(" See https://")[0][:200]


def from_download(response: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """yfinance 1.7's frame (columns (Price, Ticker), index Date, tz-aware or not) → canonical."""
    frame = response
    if isinstance(frame.columns, pd.MultiIndex):
        level = "Ticker" if "Ticker" in frame.columns.names else frame.columns.nlevels - 1
        symbols = list(dict.fromkeys(frame.columns.get_level_values(level)))
        if len(symbols) != 1:
            raise SourceError(f"yfinance returned columns for {symbols}, expected {ticker} only")
        frame = frame.droplevel(level, axis=1)
    missing = [name for name in REQUIRED if name not in frame.columns]
    if missing:
        raise SourceError(
            f"yfinance response for {ticker} lacks column(s) {', '.join(missing)} "
            f"(got {', '.join(map(str, frame.columns))})"
        )
    dates = pd.DatetimeIndex(frame.index)
    if dates.tz is not None:
        dates = dates.tz_localize(None)  # midnight exchange time -> that trading day
    renamed = frame.rename(columns=COLUMNS)
    bars = renamed[[c for c in COLUMNS.values() if c in renamed.columns]]
    bars = bars.set_axis(dates, axis=0).rename_axis("date").reset_index()
    return canonical_prices(bars, ticker)


PRICE_RTOL = 1e-9  # two float64 prices closer than this (relative) are the same price


def overlap_agrees(stored: pd.DataFrame, fetched: pd.DataFrame) -> bool:
    """Whether the fetched bars repeat the stored ones on the stored dates they cover: same
    dates, prices (NaN equal to NaN) and volumes. A split or dividend adjustment, a correction
    or a vanished bar in the overlap makes them disagree."""
    covered = stored[stored["date"] >= fetched["date"].min()]
    merged = covered.merge(fetched, on="date", how="left", suffixes=("_stored", ""))
    if merged["close"].isna().any() and not covered["close"].isna().any():
        return False  # a stored date the source no longer gives
    for name in stage_frame("raw").of_kind("float"):
        a = merged[f"{name}_stored"].to_numpy(dtype="float64")
        b = merged[name].to_numpy(dtype="float64")
        if not np.allclose(a, b, rtol=PRICE_RTOL, atol=0.0, equal_nan=True):
            return False
    volumes = merged["volume_stored"].astype("Float64"), merged["volume"].astype("Float64")
    return bool(((volumes[0] == volumes[1]) | (volumes[0].isna() & volumes[1].isna())).all())


def fetch_after_stored(
    ticker: str,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp | None,
    stored_tail: pd.DataFrame | None,
    overlap_days: int,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> tuple[pd.DataFrame, str]:
    """`ticker`'s bars to store, and how they were fetched.

    With stored bars, only those from the last `overlap_days` stored trading days on are asked
    for, and the overlap is compared with what is stored: when Yahoo restated it (a split, a
    dividend adjustment, a correction), the whole history from `start` is fetched again, so the
    restatement is stored as one version.
    """
    if stored_tail is None or stored_tail.empty or overlap_days < 1:
        return fetch_ticker(ticker, start=start, end=end, timeout=timeout), "whole history"
    overlap = stored_tail.sort_values("date").tail(overlap_days)
    since = max(overlap["date"].min(), start)
    if end is not None and since > end:
        return fetch_ticker(ticker, start=start, end=end, timeout=timeout), "whole history"
    bars = fetch_ticker(ticker, start=since, end=end, timeout=timeout)
    if not overlap_agrees(overlap, bars):
        whole = fetch_ticker(ticker, start=start, end=end, timeout=timeout)
        return whole, f"whole history (the overlap from {since:%Y-%m-%d} was restated)"
    return bars, f"from {since:%Y-%m-%d} (overlap of {len(overlap)} stored day(s) agreed)"
