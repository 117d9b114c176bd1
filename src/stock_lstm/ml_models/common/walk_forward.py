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
from stock_lstm.ml_models.common.distributed import RunStats, Shared, Task, run_tasks
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

    @classmethod
    def on_calendar(
        cls, number: int, calendar: np.ndarray, start: int, end: int, validation_days: int
    ) -> Fold:
        """Fold `number` testing calendar[start..end], validated on the `validation_days` dates
        just before; its fits may see the calendar from its first date."""
        return cls(
            number=number,
            validation_start=pd.Timestamp(calendar[start - validation_days]),
            origin=pd.Timestamp(calendar[start - 1]),
            test_start=pd.Timestamp(calendar[start]),
            test_end=pd.Timestamp(calendar[end]),
            common_start=pd.Timestamp(calendar[0]),
        )

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
    return [
        Fold.on_calendar(number + 1, common, int(rows[0]), int(rows[-1]), validation_days)
        for number, rows in enumerate(np.array_split(np.arange(first_test, len(common)), n_folds))
    ]


def make_yearly_folds(
    features: pd.DataFrame, first_test_year: int, validation_days: int
) -> list[Fold]:
    """One fold per calendar year from `first_test_year` to the last year any ticker reaches.

    The calendar is the union of the tickers' trading dates, so no series is cut at another
    one's end: each ticker is tested on its own dates inside each year it covers (a ticker that
    ended in March is tested to March; one that ends earlier is no longer tested). Fold Y's
    fits see every row before Y's first trading day (expanding window); its validation tail is
    the `validation_days` trading days just before.
    """
    if validation_days < 1:
        raise InputError(f"backtest: validation_days must be >= 1, got {validation_days}")
    by_ticker = {t: s.dates for t, s in ticker_series(features).items()}
    if not by_ticker:
        raise InputError("backtest: the features frame has no rows")
    every = np.unique(np.concatenate(list(by_ticker.values())))
    years = pd.DatetimeIndex(every).year.to_numpy()
    first_start = int(np.searchsorted(years, first_test_year))
    if first_start >= len(every) or first_start - validation_days < 1:
        raise InputError(
            f"backtest: the tickers' calendar ({pd.Timestamp(every[0]):%Y-%m-%d} to "
            f"{pd.Timestamp(every[-1]):%Y-%m-%d}, {', '.join(sorted(by_ticker))}) has no test "
            f"year from {first_test_year} on with a {validation_days}-day validation tail and a "
            "training period before it"
        )
    folds = []
    for number, year in enumerate(range(int(years[first_start]), int(years[-1]) + 1)):
        start = int(np.searchsorted(years, year))
        end = int(np.searchsorted(years, year, side="right")) - 1
        folds.append(Fold.on_calendar(number + 1, every, start, end, validation_days))
    return folds


FOLD_SCHEMES = ("yearly", "share")


def backtest_folds(features: pd.DataFrame, backtest: Mapping[str, Any]) -> list[Fold]:
    """The backtest's folds from its parameters: `scheme: yearly` (one test fold per calendar
    year from `first_test_year`) or `share` (`folds` equal slices of the last `test_share` of
    the tickers' common calendar). Tuning reads only the rows before the first of them."""
    scheme = str(backtest.get("scheme", "share"))
    if scheme not in FOLD_SCHEMES:
        raise InputError(f"backtest.scheme {scheme!r}: use one of {', '.join(FOLD_SCHEMES)}")
    if scheme == "yearly":
        return make_yearly_folds(
            features, int(backtest["first_test_year"]), int(backtest["validation_days"])
        )
    return make_folds(
        features,
        int(backtest["folds"]),
        float(backtest["test_share"]),
        int(backtest["validation_days"]),
    )


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


def mae_ratios(
    periods: Mapping[str, SplitOrigins], model: FoldModel, steps: Sequence[int]
) -> list[float]:
    """Per ticker of `periods` and step: the model's MAE over the naive forecast's (a step
    whose naive MAE is 0, or that has no origin, is left out)."""
    ratios = []
    for ticker, period in periods.items():
        close = model.forecast(ticker, period).close
        for k in steps:
            valid, origin, actual = period.step(k)
            naive = mae(actual, origin) if valid.any() else 0.0
            if naive != 0.0:  # NaN (a missing close) propagates: it must not pass unseen
                ratios.append(mae(actual, close[valid, k - 1]) / naive)
    return ratios


def validation_mae_ratio(
    features: pd.DataFrame, fold: Fold, model: FoldModel, window: int, steps: Sequence[int]
) -> float:
    """The model's MAE over the naive forecast's on the fold's validation tail, averaged over
    tickers and `steps` (below 1 beats naive): what tuning minimises. Reads no test row."""
    ratios = mae_ratios(
        validation_periods(visible_rows(features, fold), fold, window), model, steps
    )
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


@dataclass
class StepErrors:
    """One model's test forecasts of one ticker at one step, every fold concatenated in date
    order: what a significance test on the forecast errors needs (origins dated, so a panel
    test can average the loss differential over tickers per date)."""

    origin_dates: list[np.ndarray]
    origin_close: list[np.ndarray]
    actual: list[np.ndarray]
    forecast: list[np.ndarray]
    lower: list[np.ndarray]
    upper: list[np.ndarray]

    @classmethod
    def empty(cls) -> StepErrors:
        return cls([], [], [], [], [], [])

    def add(self, period: SplitOrigins, bands: Bands, k: int) -> None:
        valid, origin, actual = period.step(k)
        self.origin_dates.append(period.dates[period.origins[valid]])
        self.origin_close.append(origin)
        self.actual.append(actual)
        self.forecast.append(bands.close[valid, k - 1])
        self.lower.append(bands.lower[valid, k - 1])
        self.upper.append(bands.upper[valid, k - 1])

    def arrays(self) -> dict[str, np.ndarray]:
        """Every field as one array (empty when the ticker was never tested at this step)."""
        return {
            name: np.concatenate(parts) if parts else np.empty(0)
            for name, parts in vars(self).items()
        }


# errors[model][ticker][k]: what `run_walk_forward(..., errors=...)` fills in
ErrorStore = dict[str, dict[str, dict[int, StepErrors]]]


def run_walk_forward(
    features: pd.DataFrame,
    folds: Sequence[Fold],
    fits: Mapping[str, Fit],
    *,
    baselines: Sequence[str],
    window: int,
    steps: Sequence[int],
    level: float,
    refit_every: int | Mapping[str, int] = 1,
    min_history: int = 0,
    variants: Mapping[str, tuple[str, int]] | None = None,
    errors: ErrorStore | None = None,
    workers: int = 1,
    retries: int = 0,
    stats: RunStats | None = None,
) -> dict[str, Any]:
    """Fit every model per fold (every `refit_every` folds; between refits the last fit is
    reused: it saw even less), forecast every test origin, and report per model, ticker and
    step the per-fold scores and their mean and spread, plus the leaderboard. `baselines` names
    the fits that are baselines (the table of model types says which): every model's MAE is
    also compared with the best of them.

    `refit_every` may differ per model (a mapping with a `default`). A ticker is tested in a
    fold only when it has at least `min_history` rows before the fold's test period (its own
    calendar: a ticker that starts late joins the later folds). `variants` names fits that are
    another seed of a model (fit name -> (model, seed)): they are scored like the others but
    reported only as that model's `seed_spread`, not as models of their own. `errors`, when
    given, is filled with every model's dated test forecasts per ticker and report step.

    Each fit is one task of `distributed.run_tasks` (`workers`, `retries`, `stats`: in this
    process at 1 worker, else on a Dask cluster). The baselines' figures are the same either
    way, bit for bit; a network fitted in a worker process ends a little apart (TensorFlow adds
    in another order there: ~5e-4 relative in a fold's MAE, tests/pipelines/backtest/
    test_distributed.py). `fold_seconds` are compute seconds, summed over workers."""
    if "naive" not in fits:
        raise InputError("backtest: the naive baseline is required (every ratio is to it)")
    every_of = _refit_schedule(refit_every, fits)
    unknown = [name for name in baselines if name not in fits]
    if unknown:
        raise InputError(f"backtest: baseline(s) {', '.join(unknown)} have no fit")
    baselines = list(baselines)
    tickers = sorted(ticker_series(features))
    # scores[model][ticker][k] = one dict per fold (None where the ticker has no test origin)
    scores: dict[str, dict[str, dict[int, list[dict[str, Any] | None]]]] = {
        m: {t: {k: [] for k in steps} for t in tickers} for m in fits
    }
    horizon_hits: dict[str, dict[str, list[np.ndarray]]] = {
        m: {t: [] for t in tickers} for m in fits
    }
    history = {t: s.dates for t, s in ticker_series(features).items()}
    # per fold: the tickers it tests and their test origins
    tested_periods: list[dict[str, SplitOrigins]] = []
    for fold in folds:
        periods = fold_periods(features, fold, window)
        tested_periods.append(
            {
                t: periods[t]
                for t in tickers
                if t in periods
                and np.searchsorted(history[t], fold.test_start.to_datetime64()) >= min_history
            }
        )
    # One task per fit (fold x model x seed): it fits on the rows before its fold and forecasts
    # the tested origins of every fold it serves until the model's next refit. The networks
    # (the long fits) go first, so a cluster starts them first.
    jobs = [
        (name, index)
        for name in sorted(fits, key=lambda name: name in baselines)
        for index in range(0, len(folds), every_of[name])
    ]
    shared = Shared(features)
    tasks = [
        Task(
            f"fold {folds[index].number} {name}",
            fit_and_forecast,
            (
                fits[name],
                shared,
                folds[index],
                tested_periods[index : index + every_of[name]],
            ),
        )
        for name, index in jobs
    ]
    results = dict(
        zip(jobs, run_tasks(tasks, workers=workers, retries=retries, stats=stats), strict=True)
    )
    fit_seconds = {name: 0.0 for name in fits}
    fit_counts = {name: 0 for name in fits}
    for (name, _), result in results.items():
        fit_seconds[name] += result.fit_seconds
        fit_counts[name] += 1
    fold_seconds = []
    fold_records = []
    for index, fold in enumerate(folds):
        scored = time.perf_counter()
        refitted = [name for name in fits if index % every_of[name] == 0]
        # compute seconds (fits and forecasts, wherever they ran, and scores): comparable
        # across worker counts
        compute = 0.0
        served = {}
        for name in fits:
            refit = index - index % every_of[name]
            result = results[(name, refit)]
            served[name] = result.forecasts[index - refit]
            compute += result.forecast_seconds[index - refit]
            if refit == index:
                compute += result.fit_seconds
        tested = list(tested_periods[index])
        fold_records.append(
            {
                **fold.as_dict(),
                "refit": bool(refitted),
                "refitted": refitted,
                "tickers": tested,
            }
        )
        for ticker in tickers:
            period = tested_periods[index].get(ticker)
            bands = {name: served[name][ticker] for name in fits if period is not None}
            if period is not None:
                for name in fits:
                    horizon_hits[name][ticker].append(_hits_by_step(period, bands[name]))
            for k in steps:
                for name in fits:
                    has_target = period is not None and period.step(k)[0].any()
                    scores[name][ticker][k].append(
                        step_scores(period, bands[name], k, level) if has_target else None
                    )
                    if has_target and errors is not None:
                        store = errors.setdefault(name, {}).setdefault(ticker, {})
                        store.setdefault(k, StepErrors.empty()).add(period, bands[name], k)
        compute += time.perf_counter() - scored
        fold_seconds.append(round(compute, 2))
        fold_records[-1]["seconds"] = fold_seconds[-1]
    variants = dict(variants or {})
    everything = {
        name: {
            "tickers": {
                t: {f"h{k}": _aggregate(scores, name, t, k, baselines) for k in steps}
                for t in tickers
            },
            "fit_seconds": round(fit_seconds[name], 2),
            "fits": fit_counts[name],
            "seconds_per_fit": round(fit_seconds[name] / max(fit_counts[name], 1), 3),
        }
        for name in fits
    }
    for name, entry in everything.items():
        for ticker, by_fold in horizon_hits[name].items():
            entry["tickers"][ticker]["coverage_by_step"] = _coverage_by_step(by_fold)
    models = {name: entry for name, entry in everything.items() if name not in variants}
    for parent, entry in models.items():
        own = [(n, seed) for n, (model, seed) in variants.items() if model == parent]
        if own:
            entry["seed_spread"] = _seed_spread(everything, parent, own, tickers, steps)
    return {
        "folds": fold_records,
        "interval_level": level,
        "report_steps": list(steps),
        "window": window,
        "refit_every": dict(every_of),
        "min_history": min_history,
        "fold_seconds": fold_seconds,
        "baselines": baselines,
        "models": models,
        "leaderboard": leaderboard(models, tickers, steps),
    }


@dataclass(frozen=True)
class FitForecasts:
    """What one fit task returns: its fit's seconds and, per fold it serves, the forecasts of
    each tested ticker and their seconds."""

    fit_seconds: float
    forecasts: list[dict[str, Bands]]
    forecast_seconds: list[float]


def fit_and_forecast(
    fit: Fit, features: pd.DataFrame, fold: Fold, served: Sequence[Mapping[str, SplitOrigins]]
) -> FitForecasts:
    """One fit task: fit on the rows before `fold`'s test period only, then forecast the test
    origins of each fold in `served` (this fold, then the later ones it serves until the
    model's next refit). Runs in whichever process `run_tasks` puts it; returns arrays only.

    BLAS and OpenMP run on one thread here, as on a Dask worker: a multi-threaded BLAS sums in
    another order (GARCH's optimiser then ends ~1e-6 apart), so the report would depend on
    where a fit ran and on the machine's cores."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        started = time.perf_counter()
        model = fit(visible_rows(features, fold), fold.cutoffs())
        fit_seconds = time.perf_counter() - started
        forecasts, forecast_seconds = [], []
        for periods in served:
            started = time.perf_counter()
            forecasts.append({ticker: model.forecast(ticker, p) for ticker, p in periods.items()})
            forecast_seconds.append(time.perf_counter() - started)
    return FitForecasts(fit_seconds, forecasts, forecast_seconds)


def _refit_schedule(refit_every: int | Mapping[str, int], fits: Mapping[str, Any]) -> dict:
    """Each fit's refit interval in folds (a mapping: per model, else its `default`; a seed
    variant `lstm@43` follows `lstm`)."""
    if isinstance(refit_every, Mapping):
        default = int(refit_every.get("default", 1))
        every = {
            name: int(refit_every.get(name, refit_every.get(name.split("@")[0], default)))
            for name in fits
        }
    else:
        every = dict.fromkeys(fits, int(refit_every))
    bad = {name: n for name, n in every.items() if n < 1}
    if bad:
        raise InputError(f"backtest: refit_every must be >= 1, got {bad}")
    return every


def _hits_by_step(period: SplitOrigins, bands: Bands) -> np.ndarray:
    """(steps, 2): per step, how many test targets fell inside the band and how many there were."""
    out = np.zeros((bands.close.shape[1], 2))
    for k in range(1, bands.close.shape[1] + 1):
        valid, _, actual = period.step(k)
        inside = (bands.lower[valid, k - 1] <= actual) & (actual <= bands.upper[valid, k - 1])
        out[k - 1] = inside.sum(), valid.sum()
    return out


def _coverage_by_step(by_fold: Sequence[np.ndarray]) -> list[float | None]:
    """Every step's coverage over every test origin of every fold (None: no target)."""
    if not by_fold:
        return []
    total = np.sum(by_fold, axis=0)
    return [None if n == 0 else round(float(h / n), 4) for h, n in total]


def _seed_spread(
    everything: Mapping[str, Any],
    parent: str,
    variants: Sequence[tuple[str, int]],
    tickers: Sequence[str],
    steps: Sequence[int],
) -> dict[str, Any]:
    """Per ticker and step, each seed's mean MAE ratio to naive, and their range and std: how
    much of a difference between two networks one seed's luck could make."""
    names = [parent, *(name for name, _ in variants)]
    out: dict[str, Any] = {}
    for ticker in tickers:
        out[ticker] = {}
        for k in steps:
            means = [everything[n]["tickers"][ticker][f"h{k}"]["mae_ratio"]["mean"] for n in names]
            kept = np.array([m for m in means if m is not None], dtype="float64")
            out[ticker][f"h{k}"] = {
                "mae_ratio_by_seed": means,
                "range": float(kept.max() - kept.min()) if kept.size else None,
                "std": float(kept.std(ddof=1)) if kept.size > 1 else None,
            }
    return out


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


def results_only(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report without its seconds and its `run` block (where and how long it ran): what two
    runs of the same backtest agree on, bit for bit, whatever the number of workers."""
    timings = ("fit_seconds", "seconds_per_fit")
    kept = {k: v for k, v in report.items() if k not in ("fold_seconds", "run")}
    kept["folds"] = [{k: v for k, v in f.items() if k != "seconds"} for f in report["folds"]]
    kept["models"] = {
        name: {k: v for k, v in model.items() if k not in timings}
        for name, model in report["models"].items()
    }
    return kept


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
