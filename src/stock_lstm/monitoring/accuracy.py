"""Rolling realized accuracy per source, ticker and model version, over trading-day windows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.monitoring._frames import frame_of, require_columns, ticker_calendars

ACCURACY_COLUMNS = (
    "source",
    "ticker",
    "model_version",
    "window",  # trading days
    "as_of",  # the window's last trading day
    "n",  # scored steps whose target date is in the window
    "mae",
    "naive_mae",
    "mae_ratio",  # mae / naive_mae; NaN when naive_mae is 0 or nothing was scored
    "coverage",  # share of actual closes inside the forecast interval
)
_KEYS = ["source", "ticker", "model_version"]


def rolling_accuracy(
    scored_steps: pd.DataFrame, prices: pd.DataFrame, windows: Sequence[int]
) -> pd.DataFrame:
    """One row per source, ticker, model version, window W and trading day `as_of` (from the
    first scored target date of that series to the ticker's newest close): the figures of the
    scored steps whose target date is one of the ticker's last W trading days up to `as_of`.

    Every step counts once, all steps pooled: the naive forecast is scored on exactly the same
    (origin, step) pairs, so the ratio compares like with like whatever the mix of horizons.
    A day whose window holds no scored step has n = 0 and NaN figures (kept, so that a run of
    consecutive days can be read off the rows).
    """
    require_columns(
        scored_steps, [*_KEYS, "target_date", "abs_error", "naive_abs_error", "inside"], "scored"
    )
    sizes = [int(w) for w in windows]
    if not sizes or any(w < 1 for w in sizes) or len(set(sizes)) != len(sizes):
        raise InputError(f"monitoring windows must be distinct integers >= 1, got {list(windows)}")
    calendars = ticker_calendars(prices)
    unknown = sorted(set(scored_steps["ticker"].astype(str)) - set(calendars))
    if unknown:
        raise InputError(f"scored steps of ticker(s) {', '.join(unknown)} have no prices")
    daily = (
        scored_steps.assign(
            inside=scored_steps["inside"].astype("int64"),
            target_date=pd.to_datetime(scored_steps["target_date"]).astype("datetime64[ns]"),
        )
        .groupby([*_KEYS, "target_date"], sort=True)
        .agg(
            n=("abs_error", "size"),
            abs_error=("abs_error", "sum"),
            naive_abs_error=("naive_abs_error", "sum"),
            inside=("inside", "sum"),
        )
    )
    frames = []
    for (source, ticker, model_version), series in daily.groupby(level=_KEYS, sort=True):
        dates = calendars[str(ticker)].dates
        series = series.droplevel(_KEYS)
        days = pd.DatetimeIndex(dates[dates >= series.index.min().to_datetime64()], name="as_of")
        sums = series.reindex(days, fill_value=0)
        for window in sizes:
            totals = sums.rolling(window, min_periods=1).sum()
            n = totals["n"].to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                mae = np.where(n > 0, totals["abs_error"] / n, np.nan)
                naive_mae = np.where(n > 0, totals["naive_abs_error"] / n, np.nan)
                ratio = np.where(naive_mae > 0, mae / naive_mae, np.nan)
                coverage = np.where(n > 0, totals["inside"] / n, np.nan)
            frames.append(
                pd.DataFrame(
                    {
                        "source": source,
                        "ticker": ticker,
                        "model_version": model_version,
                        "window": window,
                        "as_of": days,
                        "n": n.astype("int64"),
                        "mae": mae,
                        "naive_mae": naive_mae,
                        "mae_ratio": ratio,
                        "coverage": coverage,
                    }
                )
            )
    return frame_of(frames, ACCURACY_COLUMNS)
