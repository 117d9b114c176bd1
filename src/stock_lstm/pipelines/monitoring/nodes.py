"""Glue of the monitoring pipeline: the registry's champion as a forecast callable, and one day
of monitoring (stock_lstm.monitoring.daily) turned into what the monitoring run stores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.serving.onnx_forecaster import OnnxForecaster
from stock_lstm.monitoring.daily import Champion, monitor_day
from stock_lstm.monitoring.policy import champion_age
from stock_lstm.monitoring.scoring import ScoredForecasts, forecast_steps_from_log


def champion_from_record(record: Mapping[str, Any]) -> Champion:
    """The champion as monitoring judges it: its ONNX export, scaler JSON and calibration make
    the forecast callable (steps 1..max_horizon); the calibration's split gives its training
    period (common start up to the validation start) and the last date it was trained on."""
    calibration = record["interval_calibration"]
    forecaster = OnnxForecaster(record["onnx_model"], record["scaler_params"], calibration)
    split = calibration["split"]

    def forecast(ticker: str, history: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        result = forecaster.forecast(history, forecaster.max_horizon, ticker)
        return result.close, result.lower, result.upper

    return Champion(
        model_version=str(record["model_version"]),
        forecast=forecast,
        min_history=forecaster.min_history,
        reference_start=dt.date.fromisoformat(split["common_start"]),
        reference_end=dt.date.fromisoformat(split["validation_start"]),
        trained_through=dt.date.fromisoformat(split["common_end"]),
    )


def monitor_champion(
    champion: Mapping[str, Any] | None,
    features: pd.DataFrame,
    logged: pd.DataFrame,
    stored_shadow: pd.DataFrame,
    last_run: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    recent_decisions: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Today's monitoring run (the keyword arguments of crud.save_monitoring_run), or
    ``{"skipped": reason}`` when there is nothing to judge: no champion yet, or the features
    version was already monitored for this champion (no new bar: nothing costly is done).
    `recent_decisions`: the stored decisions, newest first: a trigger whose retrain kept its
    candidate waits out the policy's cooldown."""
    if champion is None:
        return {"skipped": "no champion in the registry yet: run `make pipeline`"}
    if "problem" in champion:
        raise InputError(
            f"champion {champion['model_version']} cannot be monitored: {champion['problem']}"
        )
    features_version = features.attrs.get("version_id")
    if (
        last_run is not None
        and features_version is not None
        and last_run["data_version_id"] == features_version
        and last_run["model_version"] == champion["model_version"]
    ):
        return {
            "skipped": f"features version {features_version} was already monitored for "
            f"champion {champion['model_version']} (no new bar)"
        }
    judged = champion_from_record(champion)
    day = monitor_day(
        judged,
        features,
        forecast_steps_from_log(logged),
        stored_shadow,
        params,
        [] if recent_decisions is None else recent_decisions.to_dict("records"),
    )
    served = day.scored.forecasts[day.scored.forecasts["source"] == "api"]
    age = champion_age(features, judged.trained_through)
    return {
        "as_of": day.as_of,
        "model_version": judged.model_version,
        "shadow": day.shadow,
        "scores": day.scored.steps,
        "drift": day.drift,
        "decisions": [dict(day.decision)],
        "parameters": {
            "monitoring": dict(params),
            "champion": {
                "reference_start": f"{judged.reference_start}",
                "reference_end": f"{judged.reference_end}",
                "trained_through": f"{judged.trained_through}",
                "age_trading_days": age,
            },
        },
        "forecast_counts": ScoredForecasts(day.scored.steps, served).status_counts(),
        "data_version_id": features_version,
    }
