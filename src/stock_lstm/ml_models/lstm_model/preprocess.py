"""From closes to the model's arrays: log returns, the chronological split, scaling and windows.

Everything the model sees is computable from a close-price history alone (log returns), so the
API can forecast from a history a user sends, for any ticker. Index conventions, per ticker:
``closes[i]`` is row i; ``returns[i] = log(closes[i] / closes[i-1])`` (NaN for i = 0). A window
with *origin* t (the last close known) holds ``returns[t-window+1 .. t]`` (it needs closes
``t-window .. t``: ``window + 1`` values) and its targets are the cumulative log returns
``log(closes[t+k] / closes[t])`` for k = 1..max_horizon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError

if TYPE_CHECKING:  # imported where fitted: the API scales with the JSON parameters, no sklearn
    from sklearn.preprocessing import StandardScaler

SPLITS = ("train", "validation", "test")
MIN_VOLATILITY = 1e-4  # a floor for the interval scale: a flat history must not give zero width


class PreprocessError(InputError):
    """Input that cannot become model input; the message names the ticker, row and field."""


# --- features --------------------------------------------------------------------------------


def add_log_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """The features frame: ticker, date, close and the log return since the previous row.

    Always from `close`, never `adj_close`: the API forecasts from the clean closes (or the
    closes a user sends), so the model must be trained on the same series; adjusted closes are
    rescaled back in time at every dividend or split and are missing for some sources. The
    first row of each ticker has no previous close, so its log return is NaN.
    """
    missing = [c for c in ("ticker", "date", "close") if c not in prices.columns]
    if missing:
        raise PreprocessError(f"the price frame lacks column(s) {', '.join(missing)}")
    frame = pd.DataFrame(
        {
            "ticker": prices["ticker"].astype(str),
            "date": pd.to_datetime(prices["date"]).astype("datetime64[ns]"),
            "close": pd.to_numeric(prices["close"]).astype("float64"),
        }
    )
    frame = frame.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    bad = ~np.isfinite(frame["close"].to_numpy()) | (frame["close"].to_numpy() <= 0)
    if bad.any():
        row = frame[bad].iloc[0]
        raise PreprocessError(
            f"{int(bad.sum())} row(s) have a missing or non-positive 'close', "
            f"first: ticker {row['ticker']!r}, date {row['date']:%Y-%m-%d}, value {row['close']}"
        )
    duplicated = frame.duplicated(["ticker", "date"])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise PreprocessError(
            f"ticker {row['ticker']!r} has more than one row on {row['date']:%Y-%m-%d}"
        )
    returns = np.full(len(frame), np.nan)
    for index in frame.groupby("ticker", sort=False).indices.values():
        returns[index[1:]] = log_returns(frame["close"].to_numpy()[index])
    frame["log_return"] = returns
    return frame


def log_returns(closes: np.ndarray) -> np.ndarray:
    """log(c[i] / c[i-1]) along the last axis: one value fewer than `closes`.

    The one home of the log return: the features table, the model's inputs and the API's.
    """
    return np.diff(np.log(closes), axis=-1)


def recent_volatility(returns: np.ndarray, vol_window: int) -> np.ndarray:
    """Std of the last `vol_window` log returns of each history (last axis), floored.

    Scales the prediction intervals to the history's own recent volatility, so one calibration
    serves calm and turbulent periods and tickers alike (normalised split conformal).
    """
    tail = returns[..., -vol_window:]
    return np.maximum(tail.std(axis=-1), MIN_VOLATILITY)


# --- chronological split: calendar cut-off dates shared by every ticker ----------------------


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


def ticker_dates(features: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each ticker's dates, oldest first (datetime64[ns])."""
    return {t: s.dates for t, s in ticker_series(features).items()}


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


@dataclass(frozen=True)
class TickerSeries:
    """One ticker's dates and closes, oldest first."""

    dates: np.ndarray  # datetime64[ns]
    closes: np.ndarray  # float64


def ticker_series(features: pd.DataFrame) -> dict[str, TickerSeries]:
    """Each ticker's dates and closes, oldest first, tickers sorted."""
    missing = [c for c in ("ticker", "date", "close") if c not in features.columns]
    if missing:
        raise PreprocessError(f"the features frame lacks column(s) {', '.join(missing)}")
    ordered = features.sort_values(["ticker", "date"], kind="stable")
    return {
        str(ticker): TickerSeries(
            dates=group["date"].to_numpy(dtype="datetime64[ns]"),
            closes=group["close"].to_numpy(dtype="float64"),
        )
        for ticker, group in ordered.groupby("ticker", sort=True)
    }


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


# --- scaling ---------------------------------------------------------------------------------


def fit_scaler(features: pd.DataFrame, fractions: SplitSpec) -> StandardScaler:
    """A StandardScaler of log returns fitted on the TRAINING rows of every ticker only.

    Validation and test rows never touch it: their statistics would leak the future.
    """
    from sklearn.preprocessing import StandardScaler

    split = assign_splits(features, fractions)
    train = split.loc[split["split"] == "train", "log_return"].to_numpy(dtype="float64")
    train = train[np.isfinite(train)]
    if train.size < 2:
        raise PreprocessError("too few training rows to fit the scaler (need at least 2 returns)")
    return StandardScaler().fit(train.reshape(-1, 1))


def scaler_stats(scaler: StandardScaler | Mapping[str, Any]) -> tuple[float, float]:
    """(mean, scale) of a fitted one-feature scaler, or of its JSON `scaler_parameters`."""
    if isinstance(scaler, Mapping):
        return float(scaler["mean"][0]), float(scaler["scale"][0])
    return float(scaler.mean_[0]), float(scaler.scale_[0])


def scaler_parameters(scaler: StandardScaler) -> dict[str, Any]:
    """The fitted scaler as JSON (the `scaler_params` artifact): what serving needs, without
    unpickling anything."""
    return {
        "kind": "standard",
        "mean": [float(v) for v in scaler.mean_],
        "scale": [float(v) for v in scaler.scale_],
    }


def scale_inputs(returns: np.ndarray, scaler: StandardScaler) -> np.ndarray:
    """Log returns (..., window) → the model's input (..., window, 1), float32."""
    mean, scale = scaler_stats(scaler)
    return ((returns - mean) / scale)[..., np.newaxis].astype("float32")


def target_divisors(scaler: StandardScaler, max_horizon: int) -> np.ndarray:
    """Per-step divisors of the cumulative-log-return targets: scale * sqrt(k).

    Not centred: an output of zero means "no change", i.e. the naive forecast. Dividing by
    sqrt(k) gives every step a target of about unit spread, so no step dominates the loss.
    """
    _, scale = scaler_stats(scaler)
    return scale * np.sqrt(np.arange(1, max_horizon + 1, dtype="float64"))


# --- windows ---------------------------------------------------------------------------------


def window_origins(start: int, end: int, window: int, horizon: int) -> np.ndarray:
    """Origins t in rows [start, end) with a full input window and all `horizon` targets in
    [start, end) too: the targets of a split never leave it."""
    first = max(start, window)
    last = end - 1 - horizon
    return np.arange(first, last + 1) if last >= first else np.empty(0, dtype=int)


def histories(closes: np.ndarray, origins: np.ndarray, window: int) -> np.ndarray:
    """The `window + 1` closes ending at each origin: shape (n, window + 1)."""
    if origins.size == 0:
        return np.empty((0, window + 1), dtype="float64")
    index = origins[:, np.newaxis] + np.arange(-window, 1)[np.newaxis, :]
    return closes[index]


def cumulative_targets(closes: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """log(closes[t+k] / closes[t]) for k = 1..horizon: shape (n, horizon)."""
    if origins.size == 0:
        return np.empty((0, horizon), dtype="float64")
    index = origins[:, np.newaxis] + np.arange(1, horizon + 1)[np.newaxis, :]
    return np.log(closes[index]) - np.log(closes[origins])[:, np.newaxis]


@dataclass(frozen=True)
class WindowSet:
    """Scaled model inputs and targets of one split, pooled over tickers."""

    x: np.ndarray  # (n, window, 1) float32
    y: np.ndarray  # (n, max_horizon) float32, cumulative log returns / target_divisors
    tickers: np.ndarray  # (n,) the ticker of each window


def build_windows(
    features: pd.DataFrame,
    scaler: StandardScaler,
    fractions: SplitSpec,
    split: str,
    window: int,
    max_horizon: int,
) -> WindowSet:
    """Every full window of `split`, pooled over tickers, scaled with the training scaler.

    Inputs may reach back before the split's start (that is the past); targets never leave it.
    """
    xs, ys, names = [], [], []
    divisors = target_divisors(scaler, max_horizon)
    cutoffs = split_dates(features, fractions)
    for ticker, series in ticker_series(features).items():
        closes = series.closes
        start, end = cutoffs.bounds(series.dates).rows(split)
        origins = window_origins(start, end, window, max_horizon)
        if origins.size == 0:
            continue
        xs.append(scale_inputs(log_returns(histories(closes, origins, window)), scaler))
        ys.append((cumulative_targets(closes, origins, max_horizon) / divisors).astype("float32"))
        names.append(np.full(origins.size, ticker, dtype=object))
    if not xs:
        raise PreprocessError(
            f"no {split} windows: every ticker's {split} split is shorter than "
            f"window ({window}) + max_horizon ({max_horizon}) + 1 rows"
        )
    return WindowSet(x=np.concatenate(xs), y=np.concatenate(ys), tickers=np.concatenate(names))
