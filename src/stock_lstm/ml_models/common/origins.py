"""Forecast origins over a period: the rows each model forecasts from, and their actual closes.

Every model of a report (LSTM, GRU, baselines) is scored on these same origins and targets.
Inputs may reach back before the period (that is the past); targets never leave it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_lstm.ml_models.common.series import TickerSeries, ticker_series
from stock_lstm.ml_models.common.splits import SplitDates, split_dates
from stock_lstm.ml_models.common.windows import histories, window_origins


@dataclass(frozen=True)
class SplitOrigins:
    """Every origin of one ticker's period with a next-day target inside the period."""

    dates: np.ndarray  # (rows,) the ticker's dates
    closes: np.ndarray  # (rows,) the ticker's closes
    origins: np.ndarray  # (n,) row index of each origin
    start: int  # the period's first row
    end: int  # one past the period's last row
    histories: np.ndarray  # (n, window + 1) the closes each forecast starts from

    def step(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mask of origins whose step-k target is inside the period, origin closes, actuals)."""
        valid = self.origins + k < self.end
        kept = self.origins[valid]
        return valid, self.closes[kept], self.closes[kept + k]


def period_origins(series: TickerSeries, start: int, end: int, window: int) -> SplitOrigins | None:
    """The origins of rows [start, end) of one ticker, or None when it has none."""
    origins = window_origins(start, end, window, 1)
    if origins.size == 0:
        return None
    return SplitOrigins(
        dates=series.dates,
        closes=series.closes,
        origins=origins,
        start=start,
        end=end,
        histories=histories(series.closes, origins, window),
    )


def split_origins(
    features: pd.DataFrame,
    fractions: Mapping[str, float] | SplitDates,
    split: str,
    window: int,
) -> dict[str, SplitOrigins]:
    """Per ticker: every origin of `split` and its history (shared calendar cut-offs:
    splits.split_dates). Tickers without an origin are left out."""
    cutoffs = split_dates(features, fractions)
    out = {}
    for ticker, series in ticker_series(features).items():
        found = period_origins(series, *cutoffs.bounds(series.dates).rows(split), window)
        if found is not None:
            out[ticker] = found
    return out
