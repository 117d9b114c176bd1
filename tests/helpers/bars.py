"""Daily bars of the shape the stage tables store, for the data layer's tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def bars(ticker: str = "MSFT", days: int = 5, start: str = "2020-01-02", shift: float = 0.0):
    dates = pd.bdate_range(start, periods=days)
    close = np.linspace(10.0, 10.0 + days - 1, days) + shift
    return pd.DataFrame(
        {
            "ticker": ticker,
            "date": dates,
            "open": close - 0.5,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "adj_close": [np.nan] + list(close[1:]),
            "volume": np.arange(days) * 1000 + 7,
        }
    )
