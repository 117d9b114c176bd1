"""GET /api/v1/monitoring's body: built from the monitoring library's frames (pure,
`monitoring_response`), which `MonitoringReport` loads from the newest stored monitoring run;
the same figures feed the Prometheus gauges (`MonitoringCollector`)."""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from stock_lstm.api.v1.errors import unknown_ticker
from stock_lstm.api.v1.schemas.monitoring import (
    DecisionOut,
    DriftOut,
    MonitoringResponse,
    RealizedOut,
    TickerMonitoringOut,
)
from stock_lstm.common.lazy import lazy_module
from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import Database

if TYPE_CHECKING:
    import pandas as pd
else:  # a worker imports pandas (and the monitoring library) when this report is first asked
    pd = lazy_module("pandas")

logger = logging.getLogger(__name__)


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
    from stock_lstm.monitoring.drift import ticker_drift

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


# --- from the database: the newest stored monitoring run -------------------------------------

NO_MONITORING = "no monitoring run yet: run `make daily` (or `make replay FROM=... DAYS=...`)"


def empty_response() -> MonitoringResponse:
    """The normal state before the first monitoring run: 200 with empty figures."""
    return MonitoringResponse(
        model_version=None, as_of=None, tickers={}, decisions=[], message=NO_MONITORING
    )


@dataclass(frozen=True)
class _RunFigures:
    run: crud.MonitoringRunInfo
    accuracy: pd.DataFrame  # rolling_accuracy rows of the run's champion
    drift: pd.DataFrame  # the run's drift rows


class MonitoringReport:
    """GET /api/v1/monitoring and the monitoring gauges, from the newest stored run.

    The run's figures (realized scores -> rolling accuracy, drift) are computed once per run
    and kept; each request only asks which run is newest and for the recent decisions (two
    small queries), so a promotion recorded after the run shows at once. It holds the
    `Database`, not a request's session: the Prometheus gauges ask too, outside any request.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._figures: _RunFigures | None = None

    def _run_figures(self, run: crud.MonitoringRunInfo) -> _RunFigures:
        """The run's figures, computed once per run. The stored rows are read in one short
        session of their own, closed before the computation: a request waiting on the lock
        holds no pooled connection."""
        from stock_lstm.monitoring.accuracy import ACCURACY_COLUMNS, rolling_accuracy

        with self._lock:
            if self._figures is None or self._figures.run.id != run.id:
                with self._database.session() as session:
                    scores = crud.load_realized_scores(session, run.model_version)
                    tickers = sorted(scores["ticker"].astype(str).unique())
                    prices = (
                        crud.load_stage_frame(session, "clean", tickers=tickers)
                        if tickers
                        else None
                    )
                    drift = crud.load_drift_results(session, run.id)
                windows = run.parameters.get("monitoring", {}).get("windows") or [
                    int(run.parameters["monitoring"]["report"]["window"])
                ]
                if prices is None:
                    accuracy = pd.DataFrame({c: [] for c in ACCURACY_COLUMNS})
                else:
                    accuracy = rolling_accuracy(scores, prices, windows)
                self._figures = _RunFigures(run=run, accuracy=accuracy, drift=drift)
            return self._figures

    def response(self, ticker: str | None = None) -> MonitoringResponse:
        """The newest run's figures (of `ticker` only, when given: a ticker the database has
        never stored is a 404, as on every route taking one)."""
        with self._database.session() as session:
            if ticker is not None and not _stored(session, ticker):
                raise unknown_ticker(ticker)
            run = crud.latest_monitoring_run(session)
            decisions = crud.recent_decisions(session) if run is not None else []
        if run is None:
            return empty_response()
        figures = self._run_figures(run)
        response = monitoring_response(
            run.model_version,
            run.as_of,
            figures.accuracy,
            figures.drift,
            decisions,
            run.parameters["monitoring"]["report"],
            forecast_counts=run.forecast_counts,
            ticker=ticker,
        )
        age = run.parameters.get("champion", {}).get("age_trading_days")
        return response.model_copy(update={"champion_age_days": age})


def _stored(session: Session, ticker: str) -> bool:
    """Whether `ticker` has stored prices (True before any price is stored: nothing is unknown
    yet, and the empty answer says what to run)."""
    try:
        return not crud.load_ticker_prices(session, ticker, limit=1).empty
    except crud.StageError:
        return True


class MonitoringCollector(Collector):
    """Prometheus gauges from the newest monitoring run, refreshed on a scrape at most every
    `refresh_s` seconds: realized MAE ratio and coverage per ticker, drift flag per ticker,
    and the champion's age. Nothing is exported before the first run, or while the database
    does not answer (the last figures are kept)."""

    def __init__(self, report: MonitoringReport, refresh_s: float = 10.0) -> None:
        self._report = report
        self._refresh_s = refresh_s
        self._checked = -math.inf
        self._latest: MonitoringResponse | None = None
        self._lock = threading.Lock()

    def _current(self) -> MonitoringResponse | None:
        with self._lock:
            if time.monotonic() - self._checked >= self._refresh_s:
                try:
                    self._latest = self._report.response()
                except SQLAlchemyError as error:
                    logger.warning("monitoring gauges not refreshed: %s", error)
                self._checked = time.monotonic()
            return self._latest

    def collect(self) -> Iterator[Metric]:
        ratio = GaugeMetricFamily(
            "stock_lstm_monitoring_mae_ratio",
            "The champion's realized MAE / naive MAE over the report window, by ticker.",
            labels=["ticker"],
        )
        coverage = GaugeMetricFamily(
            "stock_lstm_monitoring_coverage",
            "Share of realized closes inside the champion's intervals, by ticker.",
            labels=["ticker"],
        )
        drift = GaugeMetricFamily(
            "stock_lstm_monitoring_drift",
            "1 when the ticker drifted from the champion's training period, else 0.",
            labels=["ticker"],
        )
        age = GaugeMetricFamily(
            "stock_lstm_champion_age_days",
            "Trading days since the last date the champion was trained on.",
        )
        current = self._current()
        if current is not None and current.model_version is not None:
            for name, figures in current.tickers.items():
                if figures.realized.mae_ratio is not None:
                    ratio.add_metric([name], figures.realized.mae_ratio)
                if figures.realized.coverage is not None:
                    coverage.add_metric([name], figures.realized.coverage)
                drift.add_metric([name], float(figures.drift.flag))
            if current.champion_age_days is not None:
                age.add_metric([], float(current.champion_age_days))
        yield from (ratio, coverage, drift, age)
