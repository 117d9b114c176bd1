"""Drift: recent log returns and volatility of each ticker against the champion's training period.

Two features per ticker: the daily log return, and its absolute value, the one-day volatility.
The recent sample (the last `recent_days` trading days up to as_of) is compared with the
reference sample (the training period) by the two-sample Kolmogorov-Smirnov statistic
(scipy.stats.ks_2samp) and the population stability index (PSI, binned on the reference's
quantiles). A feature drifts when BOTH its KS and its PSI exceed their thresholds: on 60 recent
days PSI alone is noisy (a calm quarter of GOOG reaches 1.1), KS is the steadier signal and PSI
confirms the shift is large. Log returns are compared two-sided (any change of shape); volatility
one-sided, "recent larger than reference": a calmer market needs no retraining, the intervals
already scale with recent volatility. Why not a rolling standard deviation: 60 overlapping
windows of one quarter are near copies of each other, and their KS and PSI are large in every
calm quarter, so no threshold separates calm from turbulent (measured on the snapshot).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.common.monitoring_columns import DRIFT_COLUMNS
from stock_lstm.monitoring._frames import as_dates, parameters_from_mapping, require_columns

FEATURES = ("log_return", "abs_log_return")
# ks_2samp's alternative per feature: "greater" tests whether the reference's CDF lies above
# the recent one, i.e. whether recent values are larger.
_KS_ALTERNATIVE = {"log_return": "two-sided", "abs_log_return": "greater"}


@dataclass(frozen=True)
class DriftParameters:
    recent_days: int  # trading days in the recent sample
    psi_bins: int  # quantile bins of the reference
    psi_epsilon: float  # floor of a bin's share, so an empty bin gives a finite PSI
    ks_threshold: float  # a feature drifts when its KS statistic exceeds this...
    psi_threshold: float  # ...and its PSI exceeds this

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> DriftParameters:
        values = parameters_from_mapping(cls, params, "monitoring drift")
        if values.recent_days < 2 or values.psi_bins < 2:
            raise InputError("monitoring drift parameters recent_days and psi_bins must be >= 2")
        if not 0 < values.psi_epsilon < 1 / values.psi_bins:
            raise InputError(
                f"monitoring drift psi_epsilon must be in (0, 1/psi_bins), got {values.psi_epsilon}"
            )
        return values


def population_stability_index(
    reference: np.ndarray, recent: np.ndarray, bins: int, epsilon: float
) -> float:
    """PSI = sum over bins of (q - p) * ln(q / p), p and q the shares of the reference and the
    recent sample in each bin. Bins: the reference's quantiles at 1/bins, 2/bins, ... (repeated
    edges merged), open at both ends; shares floored at `epsilon`."""
    reference = np.asarray(reference, dtype="float64")
    recent = np.asarray(recent, dtype="float64")
    if reference.size == 0 or recent.size == 0:
        raise InputError("PSI needs a non-empty reference and recent sample")
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    p = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1)
    q = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=edges.size + 1)
    p = np.maximum(p / reference.size, epsilon)
    q = np.maximum(q / recent.size, epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def drift_statistics(
    features: pd.DataFrame,
    reference_end: dt.date,
    as_of: dt.date,
    params: Mapping[str, Any],
    reference_start: dt.date | None = None,
) -> pd.DataFrame:
    """Per ticker and feature: KS and PSI of the recent sample against the reference (DRIFT_COLUMNS).

    `features`: ticker, date, log_return (the features table). Reference: dates in
    [reference_start, reference_end) - the champion's training rows end before its validation
    start. Recent: the ticker's last `recent_days` values dated <= as_of. A ticker with fewer
    recent values than `recent_days`, or fewer reference values than `psi_bins`, gets NaN
    figures and no flag: too little data to judge.
    """
    settings = DriftParameters.from_mapping(params)
    require_columns(features, ("ticker", "date", "log_return"), "features")
    start = pd.Timestamp(reference_start) if reference_start is not None else pd.Timestamp.min
    end, last = pd.Timestamp(reference_end), pd.Timestamp(as_of)
    if start >= end:
        raise InputError(
            f"drift reference period is empty: start {start:%Y-%m-%d} >= end {end:%Y-%m-%d}"
        )
    frame = pd.DataFrame(
        {
            "ticker": features["ticker"].astype(str).to_numpy(),
            "date": as_dates(features["date"]).to_numpy(),
            "log_return": pd.to_numeric(features["log_return"]).astype("float64").to_numpy(),
        }
    ).sort_values(["ticker", "date"], kind="stable")
    rows = []
    for ticker, group in frame.groupby("ticker", sort=True):
        returns = group.set_index("date")["log_return"].dropna()
        returns = returns[returns.index <= last]
        for feature, series in zip(FEATURES, (returns, returns.abs()), strict=True):
            reference = series[(series.index >= start) & (series.index < end)].to_numpy()
            recent = series.to_numpy()[-settings.recent_days :]
            rows.append(_compare(str(ticker), feature, reference, recent, settings))
    if not rows:
        return pd.DataFrame({c: [] for c in DRIFT_COLUMNS})
    return pd.DataFrame(rows, columns=list(DRIFT_COLUMNS))


def _compare(
    ticker: str, feature: str, reference: np.ndarray, recent: np.ndarray, p: DriftParameters
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ticker": ticker,
        "feature": feature,
        "n_reference": int(reference.size),
        "n_recent": int(recent.size),
        "ks": math.nan,
        "ks_pvalue": math.nan,
        "psi": math.nan,
        "flag": False,
    }
    if recent.size < p.recent_days or reference.size < p.psi_bins:
        return row
    # Imported on first use: scipy adds ~60 MiB and ~1 s to an API worker's start-up, and only
    # the monitoring summary needs it (tests/api/test_registry.py checks start-up is without it).
    from scipy.stats import ks_2samp

    test = ks_2samp(reference, recent, alternative=_KS_ALTERNATIVE[feature])
    row["ks"], row["ks_pvalue"] = float(test.statistic), float(test.pvalue)
    row["psi"] = population_stability_index(reference, recent, p.psi_bins, p.psi_epsilon)
    row["flag"] = bool(row["ks"] > p.ks_threshold and row["psi"] > p.psi_threshold)
    return row


def ticker_drift(drift: pd.DataFrame) -> pd.DataFrame:
    """One row per ticker: the largest KS and PSI over its features, flagged if any feature is.
    This is what GET /api/v1/monitoring shows as a ticker's drift."""
    require_columns(drift, DRIFT_COLUMNS, "drift")
    return (
        drift.groupby("ticker", sort=True)
        .agg(ks=("ks", "max"), psi=("psi", "max"), flag=("flag", "any"))
        .reset_index()
    )
