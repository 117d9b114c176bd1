"""Glue: the universe's tickers, the fit each model name of `backtest.models` stands for (the
table of model types; each network once per seed of `backtest.seeds`), then the walk-forward
harness."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.data_pipeline.sources import bundled_tickers, universe_tickers
from stock_lstm.ml_models.common.distributed import RunStats, check_workers
from stock_lstm.ml_models.common.skill import add_skill, skill_params
from stock_lstm.ml_models.common.walk_forward import (
    ErrorStore,
    Fit,
    backtest_folds,
    run_walk_forward,
)
from stock_lstm.ml_models.model_types import (
    BASELINES,
    MODEL_TYPES,
    NETWORKS,
    model_type_of,
)

SEED_SEPARATOR = "@"  # a network's extra seed is fitted as "<model>@<seed>"


def model_fits(
    models: list[str],
    training: Mapping[str, Any],
    seeds: Sequence[int] = (),
    knobs: Mapping[str, Any] | None = None,
) -> dict[str, Fit]:
    """The fit of every model named in `backtest.models` (networks use `training`'s knobs;
    a baseline with knobs of its own reads `knobs[<model>]`). With `seeds`, a network is
    fitted once per seed: `lstm` with the first (the model the report ranks) and
    `lstm@<seed>` with each further one (its seed spread)."""
    for name in models:
        if name not in MODEL_TYPES:
            raise InputError(
                f"backtest.models: unknown model {name!r}; use network types "
                f"{', '.join(NETWORKS)} or baselines {', '.join(BASELINES)}"
            )
    knobs = knobs or {}
    fits: dict[str, Fit] = {}
    for name in models:
        if name in NETWORKS and seeds:
            for position, seed in enumerate(seeds):
                seeded = {**training, "fit": {**training["fit"], "seed": int(seed)}}
                label = name if position == 0 else f"{name}{SEED_SEPARATOR}{int(seed)}"
                fits[label] = MODEL_TYPES[name].fold_fit(name, seeded)
        else:
            fits[name] = MODEL_TYPES[name].fold_fit(name, training, knobs.get(name))
    return fits


def seed_variants(fits: Mapping[str, Fit]) -> dict[str, tuple[str, int]]:
    """The fits that are another seed of a network: fit name -> (network, seed)."""
    out = {}
    for label in fits:
        if SEED_SEPARATOR in label:
            model, seed = label.split(SEED_SEPARATOR)
            out[label] = (model, int(seed))
    return out


def backtest_tickers(features: pd.DataFrame, ingestion: Mapping[str, Any] | Any) -> list[str]:
    """The stored tickers the backtest evaluates: those of `ingestion.universe`, plus every
    stored ticker that no bundled universe holds (the user's own CSV folder or Yahoo).
    `ingestion` is the `params:ingestion` block (a mapping, or the IngestionParams Kedro
    builds from it)."""
    if not isinstance(ingestion, Mapping):
        ingestion = dataclasses.asdict(ingestion)
    universes = ingestion.get("universes")
    universe = str(ingestion.get("universe", "snapshot"))
    csv_dir = ingestion.get("csv_dir") or "data/01_raw/snapshot"
    wanted = set(universe_tickers(universe, csv_dir, universes))
    own = set(features["ticker"].astype(str).unique()) - bundled_tickers(universes)
    stored = set(features["ticker"].astype(str).unique())
    chosen = sorted(stored & (wanted | own))
    if not chosen:
        raise InputError(
            f"backtest: no stored ticker of universe {universe!r} (stored: "
            f"{', '.join(sorted(stored)) or 'none'}); run ingestion with "
            f"ingestion.universe={universe} first (make backtest UNIVERSE={universe} does)"
        )
    return chosen


def run_backtest(
    features: pd.DataFrame,
    backtest: Mapping[str, Any],
    training: Mapping[str, Any],
    ingestion: Mapping[str, Any] | Any = None,
) -> dict[str, Any]:
    """Every model of `backtest.models` on the same walk-forward folds of the universe's
    stored tickers, each ticker on its own calendar."""
    max_horizon = int(training["model"]["max_horizon"])
    steps = [int(k) for k in backtest["report_steps"]]
    if any(not 1 <= k <= max_horizon for k in steps):
        raise InputError(
            f"backtest.report_steps {steps} must lie in 1..training.model.max_horizon "
            f"({max_horizon})"
        )
    if ingestion is not None and not isinstance(ingestion, Mapping):
        ingestion = dataclasses.asdict(ingestion)
    tickers = backtest_tickers(features, ingestion or {})
    chosen = features[features["ticker"].astype(str).isin(tickers)].reset_index(drop=True)
    chosen.attrs = dict(features.attrs)
    folds = backtest_folds(chosen, backtest)
    models = list(backtest["models"])
    seeds = [int(s) for s in backtest.get("seeds") or []]
    fits = model_fits(models, training, seeds, backtest.get("knobs"))
    workers = check_workers(backtest.get("workers", 1), "backtest.workers")
    retries = int(backtest.get("retries", 0))
    stats = RunStats()
    # every model's dated test forecasts per ticker and report step: what the significance
    # tests (Diebold-Mariano per ticker and pooled per date, SPA, MCS) read
    errors: ErrorStore = {}
    report = run_walk_forward(
        chosen,
        folds,
        fits,
        baselines=[name for name in models if name in BASELINES],
        window=int(training["model"]["window"]),
        steps=steps,
        level=float(training["intervals"]["level"]),
        refit_every=backtest["refit_every"],
        min_history=int(backtest.get("min_history", 0)),
        variants=seed_variants(fits),
        errors=errors,
        workers=workers,
        retries=retries,
        stats=stats,
    )
    for name in NETWORKS:
        if name in report["models"] and seeds:
            report["models"][name]["seeds"] = seeds
    add_skill(report, errors, **skill_params(backtest))
    return {
        "data_version": features.attrs.get("version_id"),
        "served_model_type": model_type_of(training),
        "universe": tickers,
        "universe_name": str((ingestion or {}).get("universe", "snapshot")),
        "scheme": str(backtest.get("scheme", "share")),
        **report,
        # how the fits ran (workers, cluster, wall seconds, peak memory): not a result
        "run": stats.as_dict(),
    }


def archive_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """The same report for the Kedro-versioned entry: backtest.json keeps only the latest."""
    return dict(report)
