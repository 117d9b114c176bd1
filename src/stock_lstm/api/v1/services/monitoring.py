"""GET /api/v1/monitoring's body from the monitoring library's frames (pure: no I/O here)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from stock_lstm.api.v1.schemas.monitoring import (
    DecisionOut,
    DriftOut,
    MonitoringResponse,
    RealizedOut,
    TickerMonitoringOut,
)
from stock_lstm.monitoring.drift import ticker_drift


def _number(value: Any) -> float | None:
    """JSON has no NaN: an undefined figure is null."""
    return None if value is None or math.isnan(float(value)) else float(value)


def _realized(rows: pd.DataFrame, window: int) -> RealizedOut:
    if rows.empty:
        return RealizedOut(
            window=window, n=0, mae=None, naive_mae=None, mae_ratio=None, coverage=None
        )
    newest = rows.sort_values("as_of").iloc[-1]
    return RealizedOut(
        window=window,
        n=int(newest["n"]),
        mae=_number(newest["mae"]),
        naive_mae=_number(newest["naive_mae"]),
        mae_ratio=_number(newest["mae_ratio"]),
        coverage=_number(newest["coverage"]),
    )


def monitoring_response(
    model_version: str,
    as_of: dt.date,
    accuracy: pd.DataFrame,
    drift: pd.DataFrame,
    decisions: Sequence[Mapping[str, Any]],
    report: Mapping[str, Any],
    forecast_counts: Mapping[str, int] | None = None,
    ticker: str | None = None,
) -> MonitoringResponse:
    """Per ticker: the champion's newest `report["window"]`-day accuracy of `report["source"]`
    forecasts up to as_of (rolling_accuracy rows) and its drift (drift_statistics rows,
    summarised by ticker_drift); `ticker` keeps only that ticker."""
    window, source = int(report["window"]), str(report["source"])
    judged = accuracy[
        (accuracy["model_version"] == model_version)
        & (accuracy["source"] == source)
        & (accuracy["window"].astype(int) == window)
        & (pd.to_datetime(accuracy["as_of"]) <= pd.Timestamp(as_of))
    ]
    drift_by_ticker = ticker_drift(drift).set_index("ticker") if len(drift) else None
    names = set(judged["ticker"].astype(str))
    if drift_by_ticker is not None:
        names |= set(drift_by_ticker.index.astype(str))
    if ticker is not None:
        names &= {ticker}
    tickers = {}
    for name in sorted(names):
        if drift_by_ticker is not None and name in drift_by_ticker.index:
            row = drift_by_ticker.loc[name]
            drift_out = DriftOut(
                ks=_number(row["ks"]), psi=_number(row["psi"]), flag=bool(row["flag"])
            )
        else:
            drift_out = DriftOut(ks=None, psi=None, flag=False)
        tickers[name] = TickerMonitoringOut(
            realized=_realized(judged[judged["ticker"] == name], window), drift=drift_out
        )
    return MonitoringResponse(
        model_version=model_version,
        as_of=as_of,
        tickers=tickers,
        decisions=[DecisionOut.model_validate(dict(decision)) for decision in decisions],
        forecast_counts=dict(forecast_counts) if forecast_counts is not None else None,
    )
