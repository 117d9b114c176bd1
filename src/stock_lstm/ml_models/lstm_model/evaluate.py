"""Honest evaluation: the LSTM against the naive forecast, in price units, on the test split.

Both forecasts use identical origins and targets. Prediction intervals are split conformal:
the quantile of validation scores (|log error| / recent volatility) per step, applied to test.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.lstm_model.predict import Forecast, Forecaster
from stock_lstm.ml_models.lstm_model.preprocess import (
    histories,
    scaler_stats,
    split_dates,
    ticker_series,
    window_origins,
)

# --- metrics ---------------------------------------------------------------------------------


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - forecast)))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - forecast) ** 2)))


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error, in percent."""
    return float(np.mean(np.abs((actual - forecast) / actual)) * 100.0)


def directional_accuracy(origin: np.ndarray, actual: np.ndarray, forecast: np.ndarray) -> float:
    """Share of origins where the forecast moves in the direction the price moved.

    A forecast of no change never counts as right unless the price did not move either, so the
    naive forecast scores (almost) zero here: the metric only means something for the LSTM.
    """
    return float(np.mean(np.sign(forecast - origin) == np.sign(actual - origin)))


def naive_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """Tomorrow's close = today's close, for every step: (n, horizon) from histories (n, m)."""
    history = np.atleast_2d(history)
    return np.repeat(history[:, -1:], horizon, axis=1)


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The split-conformal quantile: the ceil((n + 1) * level)-th smallest score.

    With exchangeable calibration and test scores, P(test score <= q) >= level. Infinite when
    there are too few scores for that guarantee.
    """
    if not 0 < level < 1:
        raise ValueError(f"interval level must be in (0, 1), got {level}")
    scores = np.sort(np.asarray(scores, dtype="float64"))
    rank = math.ceil((scores.size + 1) * level)
    return float(scores[rank - 1]) if rank <= scores.size else math.inf


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean((actual >= lower) & (actual <= upper)))


def mean_width(lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean(upper - lower))


# --- origins over a split --------------------------------------------------------------------


@dataclass(frozen=True)
class SplitOrigins:
    """Every origin of one ticker's split with a next-day target inside the split."""

    dates: np.ndarray  # (rows,) the ticker's dates
    closes: np.ndarray  # (rows,) the ticker's closes
    origins: np.ndarray  # (n,) row index of each origin
    start: int  # the split's first row
    end: int  # one past the split's last row
    histories: np.ndarray  # (n, window + 1) the closes each forecast starts from

    def step(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mask of origins whose step-k target is inside the split, origin closes, actuals)."""
        valid = self.origins + k < self.end
        kept = self.origins[valid]
        return valid, self.closes[kept], self.closes[kept + k]


def split_origins(
    features: pd.DataFrame, fractions: Mapping[str, float], split: str, window: int
) -> dict[str, SplitOrigins]:
    """Per ticker: every origin of `split` and its history (targets stay inside the split;
    inputs may reach back into earlier splits, which are the past). Shared calendar cut-offs:
    preprocess.split_dates."""
    out = {}
    cutoffs = split_dates(features, fractions)
    for ticker, series in ticker_series(features).items():
        start, end = cutoffs.bounds(series.dates).rows(split)
        origins = window_origins(len(series.closes), start, end, window, 1)
        if origins.size == 0:
            continue
        out[ticker] = SplitOrigins(
            dates=series.dates,
            closes=series.closes,
            origins=origins,
            start=start,
            end=end,
            histories=histories(series.closes, origins, window),
        )
    return out


# --- one training run's artifacts --------------------------------------------------------------


def artifact_fingerprints(model: Any, scaler: Any) -> dict[str, str]:
    """sha256 of the model's weights and of the scaler's statistics.

    Recorded in the interval calibration by training; evaluation recomputes them from the
    model and scaler it loaded, so a model, scaler and calibration of different training runs
    (e.g. the newest scaler of a run that failed before saving its model) are never mixed.
    """
    weights = hashlib.sha256()
    for array in model.get_weights():
        weights.update(np.ascontiguousarray(array, dtype="float32").tobytes())
    mean, scale = scaler_stats(scaler)
    stats = hashlib.sha256(np.array([mean, scale], dtype="float64").tobytes())
    return {"model_weights_sha256": weights.hexdigest(), "scaler_sha256": stats.hexdigest()}


def check_same_run(
    model: Any, scaler: Any, calibration: Mapping[str, Any], features: pd.DataFrame
) -> str:
    """The model version evaluated: that of the calibration, once the loaded model and scaler
    are proven to be the ones it was calibrated with, and `features` the version they were
    trained on. Raises InputError naming what differs."""
    version = calibration.get("model_version")
    recorded = calibration.get("fingerprints")
    if not version or not recorded:
        raise InputError(
            "interval_calibration records no model_version/fingerprints (made by an older "
            "training pipeline): run `kedro run --pipelines training,evaluation`"
        )
    pin = (
        f"pin one version for all: --load-versions lstm_model:{version},scaler:{version},"
        f"interval_calibration:{version},training_history:{version}"
    )
    actual = artifact_fingerprints(model, scaler)
    for key, name in (("model_weights_sha256", "lstm_model"), ("scaler_sha256", "scaler")):
        if actual[key] != recorded.get(key):
            raise InputError(
                f"the loaded {name} is not the one interval_calibration version {version} was "
                f"made with (another training run, e.g. one that failed half-way): run "
                f"`kedro run --pipelines training,evaluation`, or {pin}"
            )
    trained, evaluated = calibration.get("data_version"), features.attrs.get("version_id")
    if trained is not None and evaluated != trained:
        raise InputError(
            f"features version {evaluated} differs from the version the model was trained on "
            f"({trained}): run `kedro run --pipelines training,evaluation` or pin "
            f"--load-versions features:{trained}"
        )
    return str(version)


# --- intervals (computed in the training pipeline, where validation lives) -------------------


def calibrate_intervals(
    model: Any,
    scaler: Any,
    features: pd.DataFrame,
    params: Mapping[str, Any],
    model_version: str | None = None,
) -> dict[str, Any]:
    """Split-conformal quantiles per step from VALIDATION residuals, pooled over tickers.

    Score = |log(actual / forecast)| / sigma, sigma the history's recent volatility; the
    interval is forecast * exp(±q_k * sigma). Scaling by sigma lets one calibration serve calm
    and volatile periods and every ticker. Also records the run's model version (the save
    version of every training artifact), the split's cut-off dates and the fingerprints of
    the model and scaler, so evaluation can prove it evaluates one consistent set.
    """
    intervals = params["intervals"]
    level = float(intervals["level"])
    vol_window = int(intervals["vol_window"])
    forecaster = Forecaster(model, scaler, {"level": level, "vol_window": vol_window})
    per_ticker = split_origins(features, params["split"], "validation", forecaster.window)
    forecasts = {t: forecaster.point_batch(r.histories) for t, r in per_ticker.items()}
    sigmas = {t: forecaster.volatility(r.histories) for t, r in per_ticker.items()}
    quantiles, counts = [], []
    for k in range(1, forecaster.max_horizon + 1):
        scores = []
        for ticker, result in per_ticker.items():
            valid, _, actual = result.step(k)
            forecast = forecasts[ticker][valid, k - 1]
            scores.append(np.abs(np.log(actual / forecast)) / sigmas[ticker][valid])
        pooled = np.concatenate(scores) if scores else np.empty(0)
        q = conformal_quantile(pooled, level)
        if not math.isfinite(q):
            raise InputError(
                f"too few validation origins ({pooled.size}) to calibrate a {level:.0%} interval "
                f"at step {k}: lengthen the validation split or shorten max_horizon"
            )
        quantiles.append(q)
        counts.append(int(pooled.size))
    return {
        "method": "split conformal, |log(actual/forecast)| / recent volatility",
        "level": level,
        "vol_window": vol_window,
        "window": forecaster.window,
        "max_horizon": forecaster.max_horizon,
        "quantiles": quantiles,
        "n_calibration": counts,
        "data_version": features.attrs.get("version_id"),
        "model_version": model_version,
        "split": split_dates(features, params["split"]).as_dict(),
        "fingerprints": artifact_fingerprints(model, scaler),
    }


# --- the report ------------------------------------------------------------------------------


def _step_metrics(result: SplitOrigins, bands: Forecast, k: int) -> dict[str, Any]:
    valid, origin, actual = result.step(k)
    lstm = bands.close[valid, k - 1]
    naive = naive_forecast(result.histories[valid], k)[:, k - 1]
    lower, upper = bands.lower[valid, k - 1], bands.upper[valid, k - 1]
    lstm_mae, naive_mae = mae(actual, lstm), mae(actual, naive)
    return {
        "n": int(valid.sum()),
        "lstm": {
            "mae": lstm_mae,
            "rmse": rmse(actual, lstm),
            "mape": mape(actual, lstm),
            "directional_accuracy": directional_accuracy(origin, actual, lstm),
        },
        "naive": {
            "mae": naive_mae,
            "rmse": rmse(actual, naive),
            "mape": mape(actual, naive),
        },
        # Undefined (a flat test period): None, never NaN, which is not JSON and which
        # PostgreSQL's JSON type rejects.
        "mae_ratio": lstm_mae / naive_mae if naive_mae > 0 else None,
        "interval": {
            "level": None,  # filled by the caller
            "coverage": coverage(actual, lower, upper),
            "mean_width": mean_width(lower, upper),
        },
    }


def evaluate_model(
    model: Any,
    scaler: Any,
    calibration: Mapping[str, Any],
    features: pd.DataFrame,
    split: Mapping[str, float],
    params: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Figure], Figure]:
    """The test-split report (LSTM vs naive, per ticker and step), one backtest figure per
    ticker and an overview figure with a panel per ticker (previewable in kedro-viz).
    The test split is used here, once, and nowhere else. Model, scaler and calibration must be
    of one training run, and `features` the version it was trained on (check_same_run)."""
    model_version = check_same_run(model, scaler, calibration, features)
    forecaster = Forecaster(model, scaler, calibration)
    steps = [int(k) for k in params["report_steps"]]
    too_far = [k for k in steps if not 1 <= k <= forecaster.max_horizon]
    if too_far:
        raise InputError(
            f"evaluation.report_steps {too_far} are outside 1..{forecaster.max_horizon} "
            f"(the model's max_horizon)"
        )
    cutoffs = split_dates(features, split)
    if calibration.get("split") not in (None, cutoffs.as_dict()):
        raise InputError(
            f"the split cut-offs {cutoffs.as_dict()} differ from those of training "
            f"{calibration['split']}: evaluate with the training's split parameters"
        )
    per_ticker = split_origins(features, split, "test", forecaster.window)
    short = sorted(set(ticker_series(features)) - set(per_ticker))
    if short:
        raise InputError(
            f"ticker(s) {', '.join(short)} have no test origin with a full window of "
            f"{forecaster.window} days: nothing to evaluate for them"
        )
    for k in steps:
        empty = [t for t, r in per_ticker.items() if not r.step(k)[0].any()]
        if empty:
            raise InputError(
                f"report step {k}: ticker(s) {', '.join(empty)} have no test origin with a "
                f"target {k} day(s) later inside the test split: shorten evaluation.report_steps"
            )
    tickers: dict[str, Any] = {}
    figures: dict[str, Figure] = {}
    plot_step = int(params.get("plot_step", 1))
    overview = Figure(figsize=(10, 3.2 * len(per_ticker)), layout="constrained")
    overview_axes = np.atleast_1d(overview.subplots(len(per_ticker), 1))
    for axes, (ticker, result) in zip(overview_axes, per_ticker.items(), strict=True):
        bands = forecaster.forecast_batch(result.histories)
        entry: dict[str, Any] = {
            "n_test": int(result.end - result.start),
            "test_start": str(pd.Timestamp(result.dates[result.start]).date()),
            "test_end": str(pd.Timestamp(result.dates[-1]).date()),
        }
        for k in steps:
            metrics = _step_metrics(result, bands, k)
            metrics["interval"]["level"] = forecaster.interval_level
            entry[f"h{k}"] = metrics
        tickers[ticker] = entry
        figure = Figure(figsize=(10, 4), layout="constrained")
        for target in (figure.subplots(), axes):
            draw_backtest(target, ticker, result, bands, plot_step, forecaster.interval_level)
        figures[f"{_file_safe(ticker)}.png"] = figure
    report = {
        "model_version": model_version,
        "data_version": calibration.get("data_version"),
        "evaluated_data_version": features.attrs.get("version_id"),
        "split": cutoffs.as_dict(),
        "baseline": "naive: close[t+k] forecast = close[t]",
        "units": "price (mae, rmse, interval width); percent (mape); share (accuracy, coverage)",
        "report_steps": steps,
        "interval_level": forecaster.interval_level,
        "tickers": tickers,
        "summary": summarize(tickers, steps),
    }
    return report, figures, overview


def summarize(tickers: Mapping[str, Any], steps: Sequence[int]) -> dict[str, Any]:
    """Worst case over tickers per step: the figures the targets are judged on."""
    summary: dict[str, Any] = {}
    for k in steps:
        ratios = [
            t[f"h{k}"]["mae_ratio"] for t in tickers.values() if t[f"h{k}"]["mae_ratio"] is not None
        ]
        coverages = [t[f"h{k}"]["interval"]["coverage"] for t in tickers.values()]
        summary[f"h{k}"] = {
            "max_mae_ratio": max(ratios) if ratios else None,
            "mean_mae_ratio": float(np.mean(ratios)) if ratios else None,
            "min_coverage": min(coverages),
            "max_coverage": max(coverages),
        }
    return summary


def model_version_record(
    report: Mapping[str, Any],
    calibration: Mapping[str, Any],
    training_history: Mapping[str, Any],
    parameters: Mapping[str, Any],
) -> dict[str, Any]:
    """What the `model_versions` row records (the dataset adds the artifacts' sha256)."""
    trained = training_history.get("model_version")
    if trained is not None and trained != report["model_version"]:
        raise InputError(
            f"training_history is of model version {trained}, the evaluated model is "
            f"{report['model_version']}: pin --load-versions "
            f"training_history:{report['model_version']} or rerun training"
        )
    return {
        "model_version": report["model_version"],
        "trained_at": training_history.get("trained_at"),
        "data_version_id": calibration.get("data_version"),
        "parameters": dict(parameters),
        "metrics": {
            "split": report["split"],
            "tickers": report["tickers"],
            "summary": report["summary"],
        },
    }


# --- plots -----------------------------------------------------------------------------------


def _file_safe(ticker: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in ticker).strip("_") or "ticker"


def draw_backtest(
    axes: Any, ticker: str, result: SplitOrigins, bands: Forecast, step: int, level: float
) -> None:
    """Actual closes, the step-`step` forecast and its interval band over the test period."""
    valid, _, actual = result.step(step)
    dates = result.dates[result.origins[valid] + step]  # plotted at the target's date
    axes.fill_between(
        dates,
        bands.lower[valid, step - 1],
        bands.upper[valid, step - 1],
        alpha=0.25,
        label=f"{level:.0%} interval",
    )
    axes.plot(dates, actual, color="black", linewidth=1, label="actual close")
    axes.plot(dates, bands.close[valid, step - 1], linewidth=1, label=f"LSTM, {step}-day ahead")
    axes.set_title(f"{ticker}: test period, {step}-day-ahead forecast")
    axes.set_ylabel("close")
    axes.legend(loc="upper left", fontsize="small")
