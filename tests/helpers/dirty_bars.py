"""Consistent daily bars and a fixture with one defect of each kind cleaning must catch."""

from __future__ import annotations

import numpy as np
import pandas as pd


def bars(ticker: str = "AAA", days: int = 10, start: str = "2024-01-01") -> pd.DataFrame:
    """Consistent daily bars on business days."""
    dates = pd.bdate_range(start, periods=days)
    close = 50.0 + np.arange(days, dtype="float64")
    return pd.DataFrame(
        {
            "ticker": ticker,
            "date": dates.astype("datetime64[ns]"),
            "open": close - 0.25,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "adj_close": close * 0.99,
            "volume": pd.array(np.arange(days) * 10 + 100, dtype="Int64"),
        }
    )


def with_defect(frame: pd.DataFrame, row: int, **values) -> pd.DataFrame:
    dirty = frame.copy()
    for column, value in values.items():
        dirty.loc[row, column] = value
    return dirty


def dirty_fixture() -> pd.DataFrame:
    """Two tickers, one defect of each kind, out of order (one row per day, as raw_prices)."""
    aaa = bars("AAA", days=12)
    aaa = with_defect(aaa, 1, close=np.nan)
    aaa = with_defect(aaa, 2, high=np.inf)
    aaa = with_defect(aaa, 3, low=-1.0)
    aaa = with_defect(aaa, 4, high=10.0)
    aaa = with_defect(aaa, 5, volume=-1)
    bbb = bars("BBB", days=8)
    bbb = with_defect(bbb, 0, close=np.nan, low=-1.0)  # two defects: counted once, first rule
    bbb = bbb.iloc[::-1]  # reversed
    return pd.concat([bbb, aaa], ignore_index=True)
