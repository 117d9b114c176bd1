"""POST /api/v1/predict: pick the history (sent or stored), forecast with predict.py, log it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from stock_lstm.api.observability import ApiMetrics
from stock_lstm.api.v1.errors import (
    InvalidInput,
    ServiceUnavailable,
    no_prices_yet,
    unknown_ticker,
)
from stock_lstm.api.v1.schemas.predict import ForecastStep, PredictRequest, PredictResponse
from stock_lstm.api.v1.services.model_store import LoadedModel
from stock_lstm.api.v1.services.prediction_log import PredictionLog
from stock_lstm.api.v1.services.stored_closes import NoStoredPrices, StoredClosesCache
from stock_lstm.common.errors import ForecastInputError
from stock_lstm.common.trading_calendar import next_sessions
from stock_lstm.data_pipeline.crud.closes import StoredCloses

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForecastService:
    model: LoadedModel
    log: PredictionLog
    metrics: ApiMetrics
    closes: StoredClosesCache  # a ticker's newest closes, current with the newest data version

    async def predict_async(self, request: PredictRequest, request_id: str) -> PredictResponse:
        """From the event loop: a sent history is forecast inline (about a millisecond of CPU,
        cheaper than a thread hop), and so is a ticker whose cached closes are of the newest
        data version when that check reads a local file (SQLite); a ticker's closes read from
        the database, or checked over the network, are read in a thread."""
        if request.prices is not None:
            return self.predict(request, request_id)
        if self.closes.local:
            try:
                stored = self.closes.cached(str(request.ticker), self.model.forecaster.min_history)
            except Exception:  # the thread's read answers the error (503 when it persists)
                stored = None
            if stored is not None:
                return self.predict(request, request_id, stored)
        return await run_in_threadpool(self.predict, request, request_id)

    def predict(
        self, request: PredictRequest, request_id: str, stored: StoredCloses | None = None
    ) -> PredictResponse:
        """`stored`: the ticker's closes when the caller has them already (else read here)."""
        started = time.perf_counter()
        forecaster = self.model.forecaster
        horizon = request.horizon
        last_date: date | None = None
        ticker: str | None = None  # a sent history is of unknown origin: pooled quantiles
        if request.prices is not None:
            mode, field = "prices", "prices"
            closes = np.asarray(request.prices, dtype=np.float64)
        else:
            mode, field, ticker = "ticker", "ticker", str(request.ticker)
            stored = stored or self._stored_closes(ticker)
            closes, last_date = stored.closes, stored.last_date
        try:
            forecast = forecaster.forecast(closes, horizon, ticker)
        except ForecastInputError as error:  # predict.py's checks: the one home of the rules
            logger.info("forecast refused %s input: %s", mode, error)
            raise InvalidInput(
                str(error),
                field="horizon" if error.argument == "horizon" else field,
                type=error.kind,
            ) from error
        if not all(np.isfinite(v).all() for v in (forecast.close, forecast.lower, forecast.upper)):
            # e.g. closes jumping between 1e-190 and 1e308: the arithmetic overflows
            raise InvalidInput(
                "the forecast overflows for this history: its closes vary too wildly",
                field=field,
                type="not_finite",
            )
        dates = next_sessions(last_date, horizon) if last_date else [None] * horizon
        steps = [
            ForecastStep(step=i + 1, date=d, close=c, lower=lo, upper=hi)
            for i, (d, c, lo, hi) in enumerate(
                zip(
                    dates,
                    forecast.close.tolist(),
                    forecast.lower.tolist(),
                    forecast.upper.tolist(),
                    strict=True,
                )
            )
        ]
        latency_ms = (time.perf_counter() - started) * 1000
        self.metrics.forecasts_served.labels(mode).inc()
        self.log.submit(
            {
                "created_at": datetime.now(UTC),
                "request_id": request_id or None,
                "ticker": request.ticker,
                # the last close used: monitoring scores step k against the k-th trading day
                # after it (None for a sent history, which can never be scored)
                "origin_date": last_date,
                "model_version": self.model.version,
                "horizon": horizon,
                "values": [_logged(s) for s in steps],
                "latency_ms": latency_ms,
            }
        )
        return PredictResponse(
            ticker=request.ticker,
            model_version=self.model.version,
            horizon=horizon,
            last_date=last_date,
            interval_level=forecaster.interval_level,
            predictions=steps,
        )

    def _stored_closes(self, ticker: str) -> StoredCloses:
        needed = self.model.forecaster.min_history
        try:
            stored = self.closes.get(ticker, needed)
        except NoStoredPrices as error:
            raise no_prices_yet() from error
        if stored is None:
            raise unknown_ticker(ticker)
        if stored.closes.size < needed:
            raise InvalidInput(
                f"{ticker!r} has only {stored.closes.size} stored closes, the model needs {needed}",
                field="ticker",
                type="too_short",
            )
        return stored


@dataclass(frozen=True)
class NoForecasts:
    """Stands in for ForecastService when no model is loaded: input is still validated (422)
    before this answers 503 with the reason."""

    reason: str

    async def predict_async(self, request: PredictRequest, request_id: str) -> PredictResponse:
        raise ServiceUnavailable(self.reason, type="no_model")


def _logged(step: ForecastStep) -> dict[str, Any]:
    return {
        "step": step.step,
        "date": step.date.isoformat() if step.date else None,
        "close": step.close,
        "lower": step.lower,
        "upper": step.upper,
    }
