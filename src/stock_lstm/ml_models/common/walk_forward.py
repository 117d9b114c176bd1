"""The walk-forward (rolling-origin) harness: folds, per-fold fits, scores and the leaderboard.

Each fold has an expanding training period, a validation tail (early stopping and interval
calibration) and a test period. A model is fitted on the rows BEFORE its fold's test period
only (the harness cuts them off before calling the fit), then forecasts every test origin; all
models see the same origins and targets. Models come in as fit functions, so this module knows
no architecture and imports no TensorFlow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.intervals import Bands
from stock_lstm.ml_models.common.metrics import (
    coverage,
    mae,
    mean_width,
    point_metrics,
    ratio_or_none,
    winkler_score,
)
from stock_lstm.ml_models.common.origins import SplitOrigins, period_origins
from stock_lstm.ml_models.common.series import ticker_series
from stock_lstm.ml_models.common.splits import SplitDates

logger = logging.getLogger(__name__)


class FoldModel(Protocol):
    """A model fitted for one fold: forecasts with intervals for a ticker's test origins."""

    def forecast(self, ticker: str, period: SplitOrigins) -> Bands: ...


# A fit sees the features before the fold's test period and the fold's cut-off dates.
Fit = Callable[[pd.DataFrame, SplitDates], FoldModel]


@dataclass(frozen=True)
class Fold:
    """One rolling origin: train < validation_start <= validation < test_start <= test <= test_end.

    `origin` is the last date the fold's fits may see (the day before test_start)."""

    number: int
    validation_start: pd.Timestamp
    origin: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    common_start: pd.Timestamp

    def cutoffs(self) -> SplitDates:
        return SplitDates(
            validation_start=self.validation_start,
            test_start=self.test_start,
            common_start=self.common_start,
            common_end=self.origin,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "fold": self.number,
            "origin": f"{self.origin:%Y-%m-%d}",
            "test_start": f"{self.test_start:%Y-%m-%d}",
            "test_end": f"{self.test_end:%Y-%m-%d}",
            "validation_start": f"{self.validation_start:%Y-%m-%d}",
        }


def make_folds(
    features: pd.DataFrame, n_folds: int, test_share: float, validation_days: int
) -> list[Fold]:
    """K consecutive test periods over the last `test_share` of the tickers' common calendar.

    Fold i's test period is the i-th of K equal slices of that span; its validation tail is the
    `validation_days` trading days just before; training is everything earlier (expanding).
    """
    if n_folds < 1 or not 0 < test_share < 1 or validation_days < 1:
        raise InputError(
            f"backtest: need folds >= 1, 0 < test_share < 1, validation_days >= 1; got "
            f"folds={n_folds}, test_share={test_share}, validation_days={validation_days}"
        )
    by_ticker = {t: s.dates for t, s in ticker_series(features).items()}
    if not by_ticker:
        raise InputError("backtest: the features frame has no rows")
    common_start = max(d[0] for d in by_ticker.values())
    common_end = min(d[-1] for d in by_ticker.values())
    every = np.unique(np.concatenate(list(by_ticker.values())))
    common = every[(every >= common_start) & (every <= common_end)]
    test_rows = int(round(len(common) * test_share))
    first_test = len(common) - test_rows
    if test_rows < n_folds or first_test - validation_days < 1:
        raise InputError(
            f"backtest: the tickers' common calendar ({len(common)} trading days, "
            f"{', '.join(sorted(by_ticker))}) is too short for {n_folds} folds over its last "
            f"{test_share:.0%} with a {validation_days}-day validation tail and a training period"
        )
    folds = []
    for number, rows in enumerate(np.array_split(np.arange(first_test, len(common)), n_folds)):
        start = int(rows[0])
        folds.append(
            Fold(
                number=number + 1,
                validation_start=pd.Timestamp(common[start - validation_days]),
                origin=pd.Timestamp(common[start - 1]),
                test_start=pd.Timestamp(common[start]),
                test_end=pd.Timestamp(common[int(rows[-1])]),
                common_start=pd.Timestamp(common_start),
            )
        )
    return folds


def visible_rows(features: pd.DataFrame, fold: Fold) -> pd.DataFrame:
    """The rows a fold's fits may see: every date before its test period."""
    dates = pd.to_datetime(features["date"])
    visible = features.loc[dates < fold.test_start].copy()
    visible.attrs = dict(features.attrs)
    return visible


def _periods(
    features: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp, window: int
) -> dict[str, SplitOrigins]:
    out = {}
    for ticker, series in ticker_series(features).items():
        start = int(np.searchsorted(series.dates, first.to_datetime64()))
        end = int(np.searchsorted(series.dates, last.to_datetime64(), side="right"))
        found = period_origins(series, start, end, window)
        if found is not None:
            out[ticker] = found
    return out


def fold_periods(features: pd.DataFrame, fold: Fold, window: int) -> dict[str, SplitOrigins]:
    """Per ticker: the test origins of `fold` (targets inside the fold's test period)."""
    return _periods(features, fold.test_start, fold.test_end, window)


def validation_periods(features: pd.DataFrame, fold: Fold, window: int) -> dict[str, SplitOrigins]:
    """Per ticker: the validation origins of `fold` (targets inside its validation tail)."""
    return _periods(features, fold.validation_start, fold.origin, window)


def validation_mae_ratio(
    features: pd.DataFrame, fold: Fold, model: FoldModel, window: int, steps: Sequence[int]
) -> float:
    """The model's MAE over the naive forecast's on the fold's validation tail, averaged over
    tickers and `steps` (below 1 beats naive): what tuning minimises. Reads no test row."""
    ratios = []
    for ticker, period in validation_periods(visible_rows(features, fold), fold, window).items():
        close = model.forecast(ticker, period).close
        for k in steps:
            valid, origin, actual = period.step(k)
            naive = mae(actual, origin) if valid.any() else 0.0
            if naive != 0.0:  # NaN (a missing close) propagates: it must not pass unseen
                ratios.append(mae(actual, close[valid, k - 1]) / naive)
    if not ratios:
        raise InputError(
            f"tuning: fold {fold.number}'s validation tail has no origin with a target at "
            f"steps {list(steps)}"
        )
    return float(np.mean(ratios))


def step_scores(period: SplitOrigins, bands: Bands, k: int, level: float) -> dict[str, Any]:
    """Point and interval scores of one model at step k over one ticker's test origins."""
    valid, origin, actual = period.step(k)
    close = bands.close[valid, k - 1]
    lower, upper = bands.lower[valid, k - 1], bands.upper[valid, k - 1]
    return {
        "n": int(valid.sum()),
        **point_metrics(origin, actual, close),
        "coverage": coverage(actual, lower, upper),
        "mean_width": mean_width(lower, upper),
        "winkler": winkler_score(actual, lower, upper, level),
    }


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean and sample std across folds (None where undefined), with the per-fold values."""
    kept = np.array([v for v in values if v is not None], dtype="float64")
    return {
        "mean": float(kept.mean()) if kept.size else None,
        "std": float(kept.std(ddof=1)) if kept.size > 1 else None,
        "folds": [None if v is None else float(v) for v in values],
    }


POINT_METRICS = ("mae", "rmse", "mape", "directional_accuracy")
INTERVAL_METRICS = ("coverage", "mean_width", "winkler")


def run_walk_forward(
    features: pd.DataFrame,
    folds: Sequence[Fold],
    fits: Mapping[str, Fit],
    *,
    baselines: Sequence[str],
    window: int,
    steps: Sequence[int],
    level: float,
    refit_every: int = 1,
) -> dict[str, Any]:
    """Fit every model per fold (every `refit_every` folds; between refits the last fit is
    reused: it saw even less), forecast every test origin, and report per model, ticker and
    step the per-fold scores and their mean and spread, plus the leaderboard. `baselines` names
    the fits that are baselines (the table of model types says which): every model's MAE is
    also compared with the best of them."""
    if "naive" not in fits:
        raise InputError("backtest: the naive baseline is required (every ratio is to it)")
    if refit_every < 1:
        raise InputError(f"backtest: refit_every must be >= 1, got {refit_every}")
    unknown = [name for name in baselines if name not in fits]
    if unknown:
        raise InputError(f"backtest: baseline(s) {', '.join(unknown)} have no fit")
    baselines = list(baselines)
    tickers = sorted(ticker_series(features))
    # scores[model][ticker][k] = one dict per fold (None where the ticker has no test origin)
    scores: dict[str, dict[str, dict[int, list[dict[str, Any] | None]]]] = {
        m: {t: {k: [] for k in steps} for t in tickers} for m in fits
    }
    fitted: dict[str, FoldModel] = {}
    fit_seconds = {name: 0.0 for name in fits}
    fold_records = []
    for index, fold in enumerate(folds):
        refit = index % refit_every == 0
        if refit:
            visible = visible_rows(features, fold)
            for name, fit in fits.items():
                started = time.perf_counter()
                fitted[name] = fit(visible, fold.cutoffs())
                fit_seconds[name] += time.perf_counter() - started
                logger.info("fold %d: fitted %s", fold.number, name)
        fold_records.append({**fold.as_dict(), "refit": refit})
        periods = fold_periods(features, fold, window)
        for ticker in tickers:
            period = periods.get(ticker)
            bands = {
                name: model.forecast(ticker, period)
                for name, model in fitted.items()
                if period is not None
            }
            for k in steps:
                for name in fits:
                    has_target = period is not None and period.step(k)[0].any()
                    scores[name][ticker][k].append(
                        step_scores(period, bands[name], k, level) if has_target else None
                    )
    models = {
        name: {
            "tickers": {
                t: {f"h{k}": _aggregate(scores, name, t, k, baselines) for k in steps}
                for t in tickers
            },
            "fit_seconds": round(fit_seconds[name], 2),
        }
        for name in fits
    }
    return {
        "folds": fold_records,
        "interval_level": level,
        "report_steps": list(steps),
        "window": window,
        "refit_every": refit_every,
        "baselines": baselines,
        "models": models,
        "leaderboard": leaderboard(models, tickers, steps),
    }


def _aggregate(
    scores: Mapping[str, Any], name: str, ticker: str, k: int, baselines: Sequence[str]
) -> dict[str, Any]:
    own = scores[name][ticker][k]
    naive = scores["naive"][ticker][k]
    ratios, best_ratios = [], []
    for i, fold in enumerate(own):
        if fold is None:
            ratios.append(None)
            best_ratios.append(None)
            continue
        best = min(scores[b][ticker][k][i]["mae"] for b in baselines)
        ratios.append(ratio_or_none(fold["mae"], naive[i]["mae"]))
        best_ratios.append(ratio_or_none(fold["mae"], best))

    def across(metric: str) -> dict[str, Any]:
        return spread([None if f is None else f[metric] for f in own])

    return {
        "n": [0 if f is None else f["n"] for f in own],
        **{metric: across(metric) for metric in POINT_METRICS},
        "mae_ratio": spread(ratios),
        "mae_ratio_best_baseline": spread(best_ratios),
        "interval": {metric: across(metric) for metric in INTERVAL_METRICS},
    }


def leaderboard(
    models: Mapping[str, Any], tickers: Sequence[str], steps: Sequence[int]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per ticker and step, the models ranked by mean MAE ratio to naive (ties: Winkler)."""
    table: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for ticker in tickers:
        table[ticker] = {}
        for k in steps:
            rows = []
            for name, model in models.items():
                entry = model["tickers"][ticker][f"h{k}"]
                rows.append(
                    {
                        "model": name,
                        "mae_ratio": {
                            "mean": entry["mae_ratio"]["mean"],
                            "std": entry["mae_ratio"]["std"],
                        },
                        "mae_ratio_best_baseline": entry["mae_ratio_best_baseline"]["mean"],
                        "coverage": entry["interval"]["coverage"]["mean"],
                        "winkler": entry["interval"]["winkler"]["mean"],
                    }
                )
            rows.sort(key=_rank_key)
            table[ticker][f"h{k}"] = [{"rank": i + 1, **row} for i, row in enumerate(rows)]
    return table


def _rank_key(row: Mapping[str, Any]) -> tuple[float, float]:
    ratio, winkler = row["mae_ratio"]["mean"], row["winkler"]
    return (np.inf if ratio is None else ratio, np.inf if winkler is None else winkler)


def leaderboard_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """The leaderboard as one flat table (ticker, step, rank, model, figures): kedro-viz shows
    it as a preview."""
    rows = [
        {
            "ticker": ticker,
            "step": int(step[1:]),
            "rank": row["rank"],
            "model": row["model"],
            "mae_ratio_mean": row["mae_ratio"]["mean"],
            "mae_ratio_std": row["mae_ratio"]["std"],
            "mae_ratio_best_baseline": row["mae_ratio_best_baseline"],
            "coverage": row["coverage"],
            "winkler": row["winkler"],
        }
        for ticker, by_step in report["leaderboard"].items()
        for step, ranked in by_step.items()
        for row in ranked
    ]
    return pd.DataFrame(rows)
