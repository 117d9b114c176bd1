"""Honest evaluation: the LSTM against the naive forecast, in price units, on the test split.

Both forecasts use identical origins and targets. Prediction intervals are split conformal:
the quantile of validation scores (|log error| / recent volatility) per step, applied to test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.lstm_model.predict import Forecaster
from stock_lstm.ml_models.lstm_model.preprocess import (
    histories,
    split_bounds,
    ticker_closes,
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


# --- forecasts over a split ------------------------------------------------------------------


@dataclass(frozen=True)
class SplitForecasts:
    """Every origin of one ticker's split with a next-day target, and the forecasts from it."""

    dates: np.ndarray  # (rows,) the ticker's dates
    closes: np.ndarray  # (rows,) the ticker's closes
    origins: np.ndarray  # (n,) row index of each origin
    end: int  # one past the split's last row
    close: np.ndarray  # (n, max_horizon)
    sigma: np.ndarray  # (n,)

    def step(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mask of origins whose step-k target is inside the split, origin closes, actuals)."""
        valid = self.origins + k < self.end
        kept = self.origins[valid]
        return valid, self.closes[kept], self.closes[kept + k]


def split_forecasts(
    forecaster: Forecaster, features: pd.DataFrame, fractions: Mapping[str, float], split: str
) -> dict[str, SplitForecasts]:
    """Per ticker: point forecasts from every origin of `split` (targets stay inside the split;
    inputs may reach back into earlier splits, which are the past)."""
    out = {}
    ordered = features.sort_values(["ticker", "date"], kind="stable")
    dates_by_ticker = {
        str(t): g["date"].to_numpy() for t, g in ordered.groupby("ticker", sort=True)
    }
    for ticker, closes in ticker_closes(features).items():
        start, end = split_bounds(len(closes), fractions).rows(split)
        origins = window_origins(len(closes), start, end, forecaster.window, 1)
        if origins.size == 0:
            continue
        past = histories(closes, origins, forecaster.window)
        out[ticker] = SplitForecasts(
            dates=dates_by_ticker[ticker],
            closes=closes,
            origins=origins,
            end=end,
            close=forecaster.point_batch(past),
            sigma=forecaster.volatility(past),
        )
    return out


# --- intervals (computed in the training pipeline, where validation lives) -------------------


def calibrate_intervals(
    model: Any, scaler: Any, features: pd.DataFrame, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Split-conformal quantiles per step from VALIDATION residuals, pooled over tickers.

    Score = |log(actual / forecast)| / sigma, sigma the history's recent volatility; the
    interval is forecast * exp(±q_k * sigma). Scaling by sigma lets one calibration serve calm
    and volatile periods and every ticker.
    """
    intervals = params["intervals"]
    level = float(intervals["level"])
    vol_window = int(intervals["vol_window"])
    forecaster = Forecaster(model, scaler, {"level": level, "vol_window": vol_window})
    per_ticker = split_forecasts(forecaster, features, params["split"], "validation")
    quantiles, counts = [], []
    for k in range(1, forecaster.max_horizon + 1):
        scores = []
        for result in per_ticker.values():
            valid, _, actual = result.step(k)
            forecast = result.close[valid, k - 1]
            scores.append(np.abs(np.log(actual / forecast)) / result.sigma[valid])
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
    }


# --- the report ------------------------------------------------------------------------------


def _step_metrics(
    result: SplitForecasts, lower: np.ndarray, upper: np.ndarray, k: int
) -> dict[str, Any]:
    valid, origin, actual = result.step(k)
    lstm = result.close[valid, k - 1]
    naive = origin
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
        "mae_ratio": lstm_mae / naive_mae if naive_mae > 0 else math.nan,
        "interval": {
            "level": None,  # filled by the caller
            "coverage": coverage(actual, lower[valid, k - 1], upper[valid, k - 1]),
            "mean_width": mean_width(lower[valid, k - 1], upper[valid, k - 1]),
        },
    }


def evaluate_model(
    model: Any,
    scaler: Any,
    calibration: Mapping[str, Any],
    features: pd.DataFrame,
    model_version: str,
    split: Mapping[str, float],
    params: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Figure], Figure]:
    """The test-split report (LSTM vs naive, per ticker and step), one backtest figure per
    ticker and an overview figure with a panel per ticker (previewable in kedro-viz).
    The test split is used here, once, and nowhere else."""
    forecaster = Forecaster(model, scaler, calibration)
    steps = [int(k) for k in params["report_steps"]]
    too_far = [k for k in steps if not 1 <= k <= forecaster.max_horizon]
    if too_far:
        raise InputError(
            f"evaluation.report_steps {too_far} are outside 1..{forecaster.max_horizon} "
            f"(the model's max_horizon)"
        )
    per_ticker = split_forecasts(forecaster, features, split, "test")
    if not per_ticker:
        raise InputError("no ticker has a test split longer than the window: nothing to evaluate")
    tickers: dict[str, Any] = {}
    figures: dict[str, Figure] = {}
    plot_step = int(params.get("plot_step", 1))
    overview = Figure(figsize=(10, 3.2 * len(per_ticker)), layout="constrained")
    overview_axes = np.atleast_1d(overview.subplots(len(per_ticker), 1))
    for axes, (ticker, result) in zip(overview_axes, per_ticker.items(), strict=True):
        lower, upper = forecaster._bounds(result.close, result.sigma)
        start = split_bounds(len(result.closes), split).validation_end
        entry: dict[str, Any] = {
            "n_test": int(len(result.closes) - start),
            "test_start": str(pd.Timestamp(result.dates[start]).date()),
            "test_end": str(pd.Timestamp(result.dates[-1]).date()),
        }
        for k in steps:
            metrics = _step_metrics(result, lower, upper, k)
            metrics["interval"]["level"] = forecaster.interval_level
            entry[f"h{k}"] = metrics
        tickers[ticker] = entry
        figure = Figure(figsize=(10, 4), layout="constrained")
        for target in (figure.subplots(), axes):
            draw_backtest(
                target, ticker, result, lower, upper, plot_step, forecaster.interval_level
            )
        figures[f"{_file_safe(ticker)}.png"] = figure
    report = {
        "model_version": model_version,
        "data_version": calibration.get("data_version"),
        "evaluated_data_version": features.attrs.get("version_id"),
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
        ratios = [t[f"h{k}"]["mae_ratio"] for t in tickers.values()]
        coverages = [t[f"h{k}"]["interval"]["coverage"] for t in tickers.values()]
        summary[f"h{k}"] = {
            "max_mae_ratio": max(ratios),
            "mean_mae_ratio": float(np.mean(ratios)),
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
    return {
        "model_version": report["model_version"],
        "trained_at": training_history.get("trained_at"),
        "data_version_id": calibration.get("data_version"),
        "parameters": dict(parameters),
        "metrics": {"tickers": report["tickers"], "summary": report["summary"]},
    }


# --- plots -----------------------------------------------------------------------------------


def _file_safe(ticker: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in ticker).strip("_") or "ticker"


def draw_backtest(
    axes: Any,
    ticker: str,
    result: SplitForecasts,
    lower: np.ndarray,
    upper: np.ndarray,
    step: int,
    level: float,
) -> None:
    """Actual closes, the step-`step` forecast and its interval band over the test period."""
    valid, _, actual = result.step(step)
    dates = result.dates[result.origins[valid] + step]  # plotted at the target's date
    axes.fill_between(
        dates,
        lower[valid, step - 1],
        upper[valid, step - 1],
        alpha=0.25,
        label=f"{level:.0%} interval",
    )
    axes.plot(dates, actual, color="black", linewidth=1, label="actual close")
    axes.plot(dates, result.close[valid, step - 1], linewidth=1, label=f"LSTM, {step}-day ahead")
    axes.set_title(f"{ticker}: test period, {step}-day-ahead forecast")
    axes.set_ylabel("close")
    axes.legend(loc="upper left", fontsize="small")
