"""The chronological split: calendar cut-off dates shared by every ticker (train, validation,
test), from fractions of the tickers' common period or given explicitly (a walk-forward fold's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from stock_lstm.common.lazy import lazy_module
from stock_lstm.ml_models.common.series import PreprocessError, ticker_dates

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: the API's forecasts need only the numpy functions here
    pd = lazy_module("pandas")

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitBounds:
    """Row ranges of one ticker: train [0, train_end), validation [train_end, validation_end),
    test [validation_end, n_rows)."""

    n_rows: int
    train_end: int
    validation_end: int

    def rows(self, split: str) -> tuple[int, int]:
        return {
            "train": (0, self.train_end),
            "validation": (self.train_end, self.validation_end),
            "test": (self.validation_end, self.n_rows),
        }[split]


@dataclass(frozen=True)
class SplitDates:
    """Calendar cut-offs shared by every ticker: train = date < validation_start, validation =
    validation_start <= date < test_start, test = date >= test_start (to each ticker's end).

    One model is fitted on every ticker, so the cut-offs must be common: with per-ticker row
    counts, one ticker's test period can lie inside another's training rows (leakage).
    """

    validation_start: pd.Timestamp
    test_start: pd.Timestamp
    common_start: pd.Timestamp
    common_end: pd.Timestamp

    def bounds(self, dates: np.ndarray) -> SplitBounds:
        """A ticker's row ranges from its sorted dates."""
        dates = np.asarray(dates, dtype="datetime64[ns]")
        return SplitBounds(
            n_rows=len(dates),
            train_end=int(np.searchsorted(dates, self.validation_start.to_datetime64())),
            validation_end=int(np.searchsorted(dates, self.test_start.to_datetime64())),
        )

    def as_dict(self) -> dict[str, str]:
        """JSON-able: recorded in the training artifacts and evaluation.json."""
        return {
            "validation_start": f"{self.validation_start:%Y-%m-%d}",
            "test_start": f"{self.test_start:%Y-%m-%d}",
            "common_start": f"{self.common_start:%Y-%m-%d}",
            "common_end": f"{self.common_end:%Y-%m-%d}",
        }


# Split fractions (train/validation/test shares of the common period) or explicit cut-offs.
SplitSpec = Mapping[str, float] | SplitDates


def _check_fractions(fractions: Mapping[str, float]) -> list[float]:
    shares = [float(fractions[name]) for name in SPLITS]
    if any(s <= 0 for s in shares) or not np.isclose(sum(shares), 1.0):
        raise PreprocessError(
            "split fractions must be positive and sum to 1, got "
            f"{dict(zip(SPLITS, shares, strict=True))}"
        )
    return shares


def split_dates(features: pd.DataFrame, fractions: SplitSpec) -> SplitDates:
    """The cut-offs: the train and train+validation quantiles of the tickers' COMMON period.

    Cut-offs given as `SplitDates` (a walk-forward fold's) are used as they are.

    The common period is the intersection of the tickers' date ranges; its trading dates (any
    ticker's) are counted, and the cut-offs are the dates at positions round(n * 0.70) and
    round(n * 0.85) (by default). When every ticker has the same calendar this is the
    per-ticker row split. Every training row then precedes every validation and test row of
    every ticker, and every validation row precedes every test row.
    """
    if isinstance(fractions, SplitDates):
        return fractions
    shares = _check_fractions(fractions)
    by_ticker = ticker_dates(features)
    if not by_ticker:
        raise PreprocessError("the features frame has no rows: nothing to split")
    starts = {t: d[0] for t, d in by_ticker.items()}
    ends = {t: d[-1] for t, d in by_ticker.items()}
    common_start, common_end = max(starts.values()), min(ends.values())
    if common_start > common_end:
        late = max(starts, key=starts.get)
        early = min(ends, key=ends.get)
        raise PreprocessError(
            f"the tickers share no common period: {late} starts on "
            f"{pd.Timestamp(common_start):%Y-%m-%d}, after {early} ends on "
            f"{pd.Timestamp(common_end):%Y-%m-%d}; train them separately or drop one"
        )
    every = np.unique(np.concatenate(list(by_ticker.values())))
    common = every[(every >= common_start) & (every <= common_end)]
    n = len(common)
    train_end = int(round(n * shares[0]))
    validation_end = int(round(n * (shares[0] + shares[1])))
    if not 0 < train_end < validation_end < n:
        raise PreprocessError(
            f"the tickers' common period ({pd.Timestamp(common_start):%Y-%m-%d} to "
            f"{pd.Timestamp(common_end):%Y-%m-%d}, {n} trading day(s); tickers "
            f"{', '.join(sorted(by_ticker))}) is too short to split into train, validation "
            "and test"
        )
    cutoffs = SplitDates(
        validation_start=pd.Timestamp(common[train_end]),
        test_start=pd.Timestamp(common[validation_end]),
        common_start=pd.Timestamp(common_start),
        common_end=pd.Timestamp(common_end),
    )
    for split in SPLITS:
        empty = [
            t for t, d in by_ticker.items() if np.subtract(*cutoffs.bounds(d).rows(split)) == 0
        ]
        if empty:
            raise PreprocessError(
                f"ticker(s) {', '.join(sorted(empty))} have no rows in the {split} split "
                f"(validation from {cutoffs.validation_start:%Y-%m-%d}, test from "
                f"{cutoffs.test_start:%Y-%m-%d})"
            )
    return cutoffs


def assign_splits(features: pd.DataFrame, fractions: SplitSpec) -> pd.DataFrame:
    """The features frame sorted by (ticker, date) with a `split` column (shared cut-offs)."""
    cutoffs = split_dates(features, fractions)
    ordered = features.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    dates = ordered["date"].to_numpy(dtype="datetime64[ns]")
    labels = np.where(
        dates < cutoffs.validation_start.to_datetime64(),
        "train",
        np.where(dates < cutoffs.test_start.to_datetime64(), "validation", "test"),
    )
    ordered["split"] = labels.astype(object)
    return ordered
