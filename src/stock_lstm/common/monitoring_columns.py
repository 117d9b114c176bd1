"""The column names of the monitoring frames, shared by the monitoring library (which makes
them) and crud's monitoring tables (which store them): one list each, so the two cannot drift."""

from __future__ import annotations

FORECAST_COLUMNS = (
    "forecast_id",  # unique within its source: the predictions log id, or shadow.py's key
    "source",  # "api" (served) or "shadow" (recorded daily without traffic)
    "ticker",  # None for a forecast from a price history the client sent
    "origin_date",  # the date of the last close the forecast used
    "model_version",
    "step",  # 1 = the next trading day after the origin
    "close",
    "lower",
    "upper",
)
SCORED_COLUMNS = (
    "forecast_id",
    "source",
    "ticker",
    "model_version",
    "origin_date",
    "step",
    "target_date",
    "origin_close",
    "actual",
    "forecast",
    "lower",
    "upper",
    "error",  # actual - forecast
    "abs_error",
    "naive_error",  # actual - origin_close
    "naive_abs_error",
    "inside",  # lower <= actual <= upper
)
DRIFT_COLUMNS = (
    "ticker",
    "feature",  # "log_return" or "abs_log_return" (the one-day volatility)
    "n_reference",
    "n_recent",
    "ks",
    "ks_pvalue",
    "psi",
    "flag",
)
