"""Honest evaluation on the test split: the trained network against the naive and drift
forecasts, in price units, per ticker and step.

Every forecast uses identical origins and targets. The interval calibration comes from training
(calibration.py); provenance.py proves the model, scaler and calibration are of one run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.baselines import drift_forecast, drift_rate, naive_forecast
from stock_lstm.ml_models.common.forecasting import Forecast
from stock_lstm.ml_models.common.metrics import (
    coverage,
    mean_width,
    point_metrics,
    ratio_or_none,
)
from stock_lstm.ml_models.common.origins import SplitOrigins, split_origins
from stock_lstm.ml_models.common.plots import draw_backtest, file_safe
from stock_lstm.ml_models.common.series import ticker_series
from stock_lstm.ml_models.common.splits import split_dates
from stock_lstm.ml_models.model_types import model_type_of
from stock_lstm.ml_models.recurrent.provenance import check_same_run


def _step_metrics(
    result: SplitOrigins, bands: Forecast, k: int, mu: float, model_type: str
) -> dict[str, Any]:
    valid, origin, actual = result.step(k)
    model = bands.close[valid, k - 1]
    naive = naive_forecast(result.histories[valid], k)[:, k - 1]
    drift = drift_forecast(result.histories[valid], k, mu)[:, k - 1]
    lower, upper = bands.lower[valid, k - 1], bands.upper[valid, k - 1]
    model_metrics = point_metrics(origin, actual, model)
    naive_metrics = point_metrics(origin, actual, naive)
    del naive_metrics["directional_accuracy"]  # zero by construction (no move forecast)
    drift_metrics = point_metrics(origin, actual, drift)
    drift_metrics["mae_ratio"] = ratio_or_none(drift_metrics["mae"], naive_metrics["mae"])
    return {
        "n": int(valid.sum()),
        model_type: model_metrics,
        "naive": naive_metrics,
        "drift": drift_metrics,
        "mae_ratio": ratio_or_none(model_metrics["mae"], naive_metrics["mae"]),
        "mae_ratio_drift": ratio_or_none(model_metrics["mae"], drift_metrics["mae"]),
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
    """The test-split report (the network vs naive and drift, per ticker and step, the network's
    metrics under its model type: "lstm", "gru"), one backtest figure per
    ticker and an overview figure with a panel per ticker (previewable in kedro-viz).
    The test split is used here, once, and nowhere else. Model, scaler and calibration must be
    of one training run, and `features` the version it was trained on (check_same_run)."""
    # TensorFlow: imported when a model is evaluated, not with the pipelines naming this node
    from stock_lstm.ml_models.recurrent.inference import KerasForecaster

    model_version = check_same_run(model, scaler, calibration, features)
    forecaster = KerasForecaster(model, scaler, calibration)
    model_type = model_type_of(calibration)
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
    mu = drift_rate(features, split)
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
        bands = forecaster.forecast_batch(result.histories, ticker)
        entry: dict[str, Any] = {
            "n_test": int(result.end - result.start),
            "test_start": str(pd.Timestamp(result.dates[result.start]).date()),
            "test_end": str(pd.Timestamp(result.dates[-1]).date()),
        }
        for k in steps:
            metrics = _step_metrics(result, bands, k, mu, model_type)
            metrics["interval"]["level"] = forecaster.interval_level
            entry[f"h{k}"] = metrics
        tickers[ticker] = entry
        figure = Figure(figsize=(10, 4), layout="constrained")
        for target in (figure.subplots(), axes):
            draw_backtest(
                target,
                ticker,
                result,
                bands,
                plot_step,
                forecaster.interval_level,
                label=model_type.upper(),
            )
        figures[f"{file_safe(ticker)}.png"] = figure
    report = {
        "model_version": model_version,
        # The network's metrics of each step are under this key (a GRU's under "gru").
        "model_type": model_type,
        "data_version": calibration.get("data_version"),
        "evaluated_data_version": features.attrs.get("version_id"),
        "split": cutoffs.as_dict(),
        "baseline": "naive: close[t+k] forecast = close[t]",
        "baselines": {
            "naive": "close[t+k] = close[t]",
            "drift": "close[t+k] = close[t] * exp(k * mu), mu the mean daily log return of the "
            "training rows pooled over tickers",
        },
        "drift_mu": mu,
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
        # Which architecture is served: the model card reads it from here.
        "parameters": {
            **parameters,
            "model_type": training_history.get("model_type", model_type_of(parameters)),
        },
        "metrics": {
            "split": report["split"],
            "tickers": report["tickers"],
            "summary": report["summary"],
        },
    }
