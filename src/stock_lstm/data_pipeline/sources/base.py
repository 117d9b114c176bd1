"""What every price source shares: the canonical frame and the one error type."""

from __future__ import annotations

import pandas as pd

from stock_lstm.common.errors import InputError

CANONICAL_COLUMNS = ("ticker", "date", "open", "high", "low", "close", "adj_close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")


class SourceError(InputError):
    """A source could not give a ticker's prices; the message names the ticker, file, column or row."""


def canonical_prices(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """`frame` (date, open, high, low, close, [adj_close], volume) as one ticker's canonical bars.

    Values are typed, never altered: missing ones stay missing for cleaning to judge.
    """
    out = pd.DataFrame(
        {
            "ticker": pd.Series(ticker, index=frame.index, dtype="str"),
            "date": pd.to_datetime(frame["date"]).dt.normalize().astype("datetime64[ns]"),
        }
    )
    for name in PRICE_COLUMNS:
        values = frame[name] if name in frame.columns else pd.Series(float("nan"), frame.index)
        out[name] = pd.to_numeric(values).astype("float64")
    out["volume"] = pd.to_numeric(frame["volume"]).round().astype("Int64")
    return out.reset_index(drop=True)
