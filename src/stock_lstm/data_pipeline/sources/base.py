"""What every price source shares: the canonical frame and the one error type."""

from __future__ import annotations

import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.data_pipeline.schema import typed_frame


class SourceError(InputError):
    """A source could not give a ticker's prices; the message names the ticker, file, column or row."""


def canonical_prices(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """`frame` (date, open, high, low, close, [adj_close], volume) as one ticker's canonical bars:
    the raw_prices table's columns, typed, in the source's row order.

    Values are typed, never altered: missing ones stay missing for cleaning to judge.
    """
    return typed_frame(frame.assign(ticker=ticker), "raw").reset_index(drop=True)
