"""Frames for the model tests: the bundled snapshot, and random walks with a known law."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stock_lstm.ml_models.common.series import add_log_returns

SNAPSHOT = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "snapshot"


def random_walk_features(
    tickers: dict[str, int], sigma: float = 0.01, seed: int = 0
) -> pd.DataFrame:
    """Geometric random walks (i.i.d. N(0, sigma) log returns), `rows` business days each."""
    rng = np.random.default_rng(seed)
    frames = []
    for ticker, rows in tickers.items():
        closes = 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, rows)))
        dates = pd.bdate_range("2001-01-01", periods=rows)
        frames.append(pd.DataFrame({"ticker": ticker, "date": dates, "close": closes}))
    return add_log_returns(pd.concat(frames, ignore_index=True))


@pytest.fixture
def walk_features() -> pd.DataFrame:
    return random_walk_features({"AAA": 400, "BBB": 300})


@functools.cache
def snapshot_frame() -> pd.DataFrame:
    """Features of two real tickers of the bundled snapshot over the same two years (small;
    GOOG's file ends in 2013-03, so a common period for the shared split cut-offs). Read once:
    a test gets its own copy (snapshot_features)."""
    frames = []
    for ticker, name in (("GOOG", "GOOG.csv"), ("MSFT", "MSFT.csv")):
        raw = pd.read_csv(SNAPSHOT / name)
        raw = raw[raw["Date"].between("2011-03-01", "2013-03-01")]
        frames.append(pd.DataFrame({"ticker": ticker, "date": raw["Date"], "close": raw["Close"]}))
    return add_log_returns(pd.concat(frames, ignore_index=True))


@pytest.fixture
def snapshot_features() -> pd.DataFrame:
    """snapshot_frame(), the test's own copy (a test may set its attrs or columns)."""
    frame = snapshot_frame().copy(deep=True)
    frame.attrs = {}
    return frame
