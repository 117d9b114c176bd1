"""Content hashes of stage tables: per row (128 bits, summable), per ticker, per version.

A version's `content_hash` is computed by its `hash_method`: `tickers` (sha256 of each
ticker's row-hash sum, every version since migration 0002) or `table` (sha256 of the whole
canonical CSV, the versions written before)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from stock_lstm.data_pipeline.schema import (
    StageError,
    typed_frame,
)

FLOAT_HASH_FORMAT = "%.17g"  # round-trips a float64 exactly, so a reload hashes the same
# hash_method of a version: how its content_hash was computed (see table_hash)
TABLE_HASH = "table"  # sha256 of the whole canonical CSV: versions written before migration 0002
TICKERS_HASH = "tickers"  # sha256 of the per-ticker hashes: every version since
# Two keys give each row a 128-bit hash (pandas' siphash of the row's values).
ROW_HASH_KEYS = ("stocklstm-row-01", "stocklstm-row-02")
_MASK64 = (1 << 64) - 1


def canonical_frame(frame: pd.DataFrame, stage: str) -> pd.DataFrame:
    """The stage's columns in table order, typed and sorted by (ticker, date): what gets hashed."""
    typed = typed_frame(frame, stage)
    return typed.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


def content_hash(frame: pd.DataFrame) -> str:
    """sha256 of a canonical frame's text: equal content, equal hash, whatever the row order.

    The `table` hash method: how every version was identified before migration 0002.
    """
    text = frame.to_csv(
        index=False, float_format=FLOAT_HASH_FORMAT, na_rep="", date_format="%Y-%m-%d"
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _row_hashes(canonical: pd.DataFrame) -> np.ndarray:
    """A 128-bit hash per row (two uint64 columns) of a canonical frame."""
    if canonical.empty:
        return np.zeros((0, 2), dtype=np.uint64)
    return np.column_stack(
        [
            pd.util.hash_pandas_object(canonical, index=False, hash_key=key).to_numpy()
            for key in ROW_HASH_KEYS
        ]
    )


def _hash_sum(hashes: np.ndarray) -> tuple[int, int]:
    """The rows' hashes summed (mod 2**64 per half): order-free, and a change updates it by
    adding the new rows and subtracting the closed ones, without reading the others."""
    with np.errstate(over="ignore"):
        total = hashes.sum(axis=0, dtype=np.uint64)
    return int(total[0]), int(total[1])


def _hash_text(value: tuple[int, int]) -> str:
    return f"{value[0]:016x}{value[1]:016x}"


def _hash_value(text: str) -> tuple[int, int]:
    return int(text[:16], 16), int(text[16:32], 16)


def _hash_add(a: tuple[int, int], b: tuple[int, int], sign: int = 1) -> tuple[int, int]:
    return (a[0] + sign * b[0]) & _MASK64, (a[1] + sign * b[1]) & _MASK64


def ticker_hash(frame: pd.DataFrame, stage: str) -> str:
    """The content hash of one ticker's rows (any order): what `ticker_versions` records."""
    return _hash_text(_hash_sum(_row_hashes(canonical_frame(frame, stage))))


def _tickers_digest(states: Mapping[str, str]) -> str:
    lines = "".join(f"{ticker}:{digest}\n" for ticker, digest in sorted(states.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def table_hash(frame: pd.DataFrame, stage: str, method: str = TICKERS_HASH) -> str:
    """The content hash of a whole table as a version records it (its `hash_method`):
    ``tickers``: sha256 of each ticker's row hash; ``table``: sha256 of the canonical CSV."""
    canonical = canonical_frame(frame, stage)
    if method == TABLE_HASH:
        return content_hash(canonical)
    if method != TICKERS_HASH:
        raise StageError(f"unknown hash method {method!r}")
    hashes = _row_hashes(canonical)
    states = {}
    for ticker, positions in canonical.groupby("ticker", sort=True).indices.items():
        states[str(ticker)] = _hash_text(_hash_sum(hashes[positions]))
    return _tickers_digest(states)
