"""What the backtest's test forecasts can claim: per model, ticker and step a Diebold–Mariano
test against naive (Holm-corrected across tickers), the share of "up" forecasts next to the
base rate and Pesaran–Timmermann's test of directional skill; per model and step AvgRelMAE, a
panel DM test and the tickers won or lost; per step the SPA test and the model confidence set.

Fed by the walk-forward harness's dated test errors (`walk_forward.ErrorStore`), every fold
concatenated in date order. The loss is the absolute error (the report ranks by MAE).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.significance import (
    diebold_mariano,
    geometric_mean_ratio,
    holm,
    model_confidence_set,
    pesaran_timmermann,
    superior_predictive_ability,
)
from stock_lstm.ml_models.common.walk_forward import ErrorStore

BENCHMARK = "naive"


def _absolute_errors(errors: ErrorStore, model: str, ticker: str, k: int) -> pd.Series | None:
    """|actual - forecast| indexed by origin date, or None when never tested."""
    found = errors.get(model, {}).get(ticker, {}).get(k)
    if found is None:
        return None
    arrays = found.arrays()
    if arrays["actual"].size == 0:
        return None
    return pd.Series(
        np.abs(arrays["actual"] - arrays["forecast"]),
        index=pd.DatetimeIndex(arrays["origin_dates"]),
    )


def _cell(errors: ErrorStore, model: str, ticker: str, k: int) -> dict[str, Any] | None:
    """One model × ticker × step: DM against naive, up-share, base rate, PT, pooled ratio."""
    own = errors.get(model, {}).get(ticker, {}).get(k)
    naive = errors.get(BENCHMARK, {}).get(ticker, {}).get(k)
    if own is None or naive is None:
        return None
    a, b = own.arrays(), naive.arrays()
    if a["actual"].size == 0:
        return None
    if not np.array_equal(a["origin_dates"], b["origin_dates"]):
        raise InputError(
            f"backtest: {model} and naive were scored on different origins for {ticker} at "
            f"step {k}; every model must forecast the same origins"
        )
    loss, naive_loss = np.abs(a["actual"] - a["forecast"]), np.abs(b["actual"] - b["forecast"])
    test = diebold_mariano(loss - naive_loss, k)
    forecast_up = a["forecast"] > a["origin_close"]
    actual_up = a["actual"] > a["origin_close"]
    direction = pesaran_timmermann(forecast_up, actual_up)
    naive_mae = float(np.nanmean(naive_loss))
    return {
        "dm": {"statistic": test.statistic, "p_value": test.p_value, "lags": test.lags},
        "n_test": test.n,
        "mae_ratio_pooled": float(np.nanmean(loss)) / naive_mae if naive_mae > 0 else None,
        "positive_share": float(forecast_up.mean()),
        "base_rate": float(actual_up.mean()),
        "direction": {
            "hit_rate": float(np.mean(forecast_up == actual_up)),
            "pt_statistic": direction.statistic,
            "pt_p_value": direction.p_value,
        },
    }


def panel_losses(
    errors: ErrorStore, models: Sequence[str], tickers: Sequence[str], k: int
) -> pd.DataFrame:
    """Per origin date and model, the absolute error in units of the ticker's naive MAE,
    averaged over the tickers tested that day: one loss series per model on one calendar, in
    which every ticker weighs alike whatever its price level. Dates where a model has no finite
    loss are dropped (every model is scored on the same dates)."""
    columns = {}
    for model in models:
        parts = []
        for ticker in tickers:
            own = _absolute_errors(errors, model, ticker, k)
            naive = _absolute_errors(errors, BENCHMARK, ticker, k)
            if own is None or naive is None or not naive.mean() > 0:
                continue
            parts.append(own / naive.mean())
        if parts:
            stacked = pd.concat(parts)
            columns[model] = stacked.groupby(level=0).mean()
    return pd.DataFrame(columns).sort_index().dropna()


def add_skill(
    report: dict[str, Any],
    errors: ErrorStore,
    *,
    level: float,
    mcs_size: float,
    reps: int,
    seed: int,
) -> dict[str, Any]:
    """The report with every significance figure added (in place and returned); the models are
    the report's (seed variants stay in their model's seed spread)."""
    if BENCHMARK not in report["models"]:
        raise InputError("backtest: significance needs the naive baseline")
    models = list(report["models"])
    steps = [int(k) for k in report["report_steps"]]
    tickers = sorted({t for m in models for t in report["models"][m]["tickers"]})
    significance: dict[str, Any] = {}
    for k in steps:
        for model in models:
            cells = {t: _cell(errors, model, t, k) for t in tickers}
            adjusted = holm({t: c["dm"]["p_value"] if c else None for t, c in cells.items()})
            wins, losses, ratios, weights = [], [], [], []
            for ticker, cell in cells.items():
                if cell is None:
                    continue
                cell["dm"]["p_holm"] = adjusted[ticker]
                statistic, p = cell["dm"]["statistic"], adjusted[ticker]
                if statistic is not None and p is not None and p < level:
                    (wins if statistic < 0 else losses).append(ticker)
                ratios.append(cell["mae_ratio_pooled"])
                weights.append(cell["n_test"])
                report["models"][model]["tickers"][ticker][f"h{k}"].update(cell)
            panel = panel_losses(errors, [model, BENCHMARK], tickers, k)
            panel_test = (
                diebold_mariano((panel[model] - panel[BENCHMARK]).to_numpy(), k)
                if model != BENCHMARK and not panel.empty
                else None
            )
            summary = report["models"][model].setdefault("summary", {})
            summary[f"h{k}"] = {
                "avg_rel_mae": geometric_mean_ratio(ratios, weights),
                "significant_wins": wins,
                "significant_losses": losses,
                "tickers_tested": len(ratios),
                "panel_dm": None if panel_test is None else panel_test.as_dict(),
            }
        significance[f"h{k}"] = step_significance(
            errors, models, tickers, k, mcs_size=mcs_size, reps=reps, seed=seed
        )
    report["significance"] = {
        "level": level,
        "correction": "holm across tickers, per model and step",
        "dm": "two-sided Diebold-Mariano on absolute errors vs naive; Bartlett HAC, lags >= k-1; "
        "Harvey-Leybourne-Newbold correction, t(n-1)",
        "mcs_size": mcs_size,
        "bootstrap_reps": reps,
        **significance,
    }
    return report


def step_significance(
    errors: ErrorStore,
    models: Sequence[str],
    tickers: Sequence[str],
    k: int,
    *,
    mcs_size: float,
    reps: int,
    seed: int,
) -> dict[str, Any]:
    """At step k, on the panel losses: SPA's p-value of "no model beats naive" and the model
    confidence set (block bootstrap, blocks of at least k days: the k-step targets overlap)."""
    losses = panel_losses(errors, models, tickers, k)
    rivals = [m for m in losses.columns if m != BENCHMARK]
    if losses.empty or BENCHMARK not in losses or not rivals or len(losses) < 2 * k + 2:
        return {"spa_p_value": None, "mcs": None, "dates": int(len(losses))}
    block = max(k, int(np.sqrt(len(losses))))
    return {
        "spa_p_value": superior_predictive_ability(
            losses[BENCHMARK].to_numpy(), losses[rivals], block_size=block, reps=reps, seed=seed
        ),
        "mcs": model_confidence_set(losses, size=mcs_size, block_size=block, reps=reps, seed=seed),
        "dates": int(len(losses)),
        "block_size": block,
        "mean_loss": {m: float(losses[m].mean()) for m in losses.columns},
    }


def skill_params(backtest: Mapping[str, Any]) -> dict[str, Any]:
    """`backtest.significance`'s knobs with their defaults."""
    given = dict(backtest.get("significance") or {})
    return {
        "level": float(given.get("level", 0.05)),
        "mcs_size": float(given.get("mcs_size", 0.10)),
        "reps": int(given.get("bootstrap_reps", 1000)),
        "seed": int(given.get("seed", 42)),
    }
