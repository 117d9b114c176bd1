"""Figures of the reports: a test-period forecast with its band, and per-fold MAE ratios."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from stock_lstm.ml_models.common.intervals import Bands
from stock_lstm.ml_models.common.origins import SplitOrigins


def file_safe(ticker: str) -> str:
    """A ticker as a file name (^GSPC -> GSPC)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in ticker).strip("_") or "ticker"


def draw_backtest(
    axes: Any,
    ticker: str,
    result: SplitOrigins,
    bands: Bands,
    step: int,
    level: float,
    label: str = "model",
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
    axes.plot(dates, bands.close[valid, step - 1], linewidth=1, label=f"{label}, {step}-day ahead")
    axes.set_title(f"{ticker}: test period, {step}-day-ahead forecast")
    axes.set_ylabel("close")
    axes.legend(loc="upper left", fontsize="small")


def plot_fold_ratios(report: Mapping[str, Any]) -> Figure:
    """One panel per ticker and step: each model's MAE ratio to naive, fold by fold."""
    models = report["models"]
    tickers = sorted(next(iter(models.values()))["tickers"])
    steps = report["report_steps"]
    folds = [f["fold"] for f in report["folds"]]
    figure = Figure(figsize=(4.2 * len(steps), 3.0 * len(tickers)), layout="constrained")
    axes = np.atleast_2d(figure.subplots(len(tickers), len(steps), squeeze=False))
    for row, ticker in enumerate(tickers):
        for col, k in enumerate(steps):
            panel = axes[row, col]
            for name, model in models.items():
                ratios = model["tickers"][ticker][f"h{k}"]["mae_ratio"]["folds"]
                values = [np.nan if r is None else r for r in ratios]
                panel.plot(folds, values, marker="o", linewidth=1, label=name)
            panel.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
            panel.set_title(f"{ticker}, step {k}")
            panel.set_xticks(folds)
            panel.set_xlabel("fold")
            panel.set_ylabel("MAE / naive MAE")
    axes[0, 0].legend(fontsize="small")
    return figure
