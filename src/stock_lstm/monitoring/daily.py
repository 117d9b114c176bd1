"""One day of monitoring, composed: what the daily pipeline's monitoring node computes.

Given the champion (a forecast callable and what it was trained on), the forecasts logged by
the API, the shadow forecasts stored by earlier days, and the features up to today: today's
shadow forecasts, the scores of every forecast whose targets exist, the rolling accuracy, the
drift and the retrain decision. Pure: the caller loads the inputs and stores the outputs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.monitoring._frames import as_dates, require_columns
from stock_lstm.monitoring.accuracy import rolling_accuracy
from stock_lstm.monitoring.drift import drift_statistics
from stock_lstm.monitoring.policy import (
    RetrainDecision,
    RetrainPolicy,
    champion_age,
    cooling_triggers,
    retrain_decision,
)
from stock_lstm.monitoring.scoring import (
    FORECAST_COLUMNS,
    ScoredForecasts,
    combine_forecasts,
    score_forecasts,
)
from stock_lstm.monitoring.shadow import ForecastFunction, shadow_forecasts


@dataclass(frozen=True)
class Champion:
    """The model judged: its version, how to forecast with it, and what it was trained on."""

    model_version: str
    forecast: ForecastFunction  # ticker, closes -> close, lower, upper for steps 1..h
    min_history: int  # closes the forecast needs
    reference_end: dt.date  # end (exclusive) of its training period: its validation start
    trained_through: dt.date  # the last date of the data it was trained on (its age counts on)
    reference_start: dt.date | None = None  # start of its training period (None: all history)


@dataclass(frozen=True)
class DayOfMonitoring:
    as_of: dt.date
    shadow: pd.DataFrame  # today's shadow forecasts (FORECAST_COLUMNS), to be stored
    scored: ScoredForecasts  # every logged and shadow forecast, scored where targets exist
    accuracy: pd.DataFrame  # rolling_accuracy rows
    drift: pd.DataFrame  # drift_statistics rows
    decision: RetrainDecision


def monitor_day(
    champion: Champion,
    features: pd.DataFrame,
    logged: pd.DataFrame,
    stored_shadow: pd.DataFrame,
    params: Mapping[str, Any],
    decisions: Sequence[Mapping[str, Any]] = (),
) -> DayOfMonitoring:
    """`features`: ticker, date, close, log_return up to today (as_of = its newest date);
    `logged`: the API's forecasts (scoring.forecast_steps_from_log); `stored_shadow`: the shadow
    forecasts of earlier days; `params`: the `monitoring` parameters; `decisions`: the recent
    stored decisions (crud.recent_decisions), whose vain retrains put triggers in cooldown."""
    require_columns(features, ("ticker", "date", "close", "log_return"), "features")
    require_columns(logged, FORECAST_COLUMNS, "logged forecasts")
    if features.empty:
        raise InputError("features has no rows: nothing to monitor")
    for key in ("windows", "drift", "policy"):
        if key not in params:
            raise InputError(f"monitoring parameters lack {key}")
    as_of = as_dates(features["date"]).max().date()
    shadow = shadow_forecasts(
        champion.forecast, features, champion.model_version, champion.min_history
    )
    all_shadow = combine_forecasts(stored_shadow, shadow)
    parts = [f.loc[:, list(FORECAST_COLUMNS)] for f in (logged, all_shadow) if len(f)]
    forecasts = (
        pd.concat(parts, ignore_index=True) if parts else shadow.loc[:, list(FORECAST_COLUMNS)]
    )
    scored = score_forecasts(forecasts, features)
    accuracy = rolling_accuracy(scored.steps, features, params["windows"])
    drift = drift_statistics(
        features, champion.reference_end, as_of, params["drift"], champion.reference_start
    )
    age = champion_age(features, champion.trained_through)
    cooldown = RetrainPolicy.from_mapping(params["policy"]).cooldown_days
    decision = retrain_decision(
        accuracy,
        drift,
        champion.model_version,
        age,
        as_of,
        params["policy"],
        cooling_triggers(decisions, features, as_of, cooldown),
    )
    return DayOfMonitoring(
        as_of=as_of,
        shadow=shadow,
        scored=scored,
        accuracy=accuracy,
        drift=drift,
        decision=decision,
    )
