"""Dependencies reading the state the lifespan stored on `app.state`.

`async def` on purpose: FastAPI runs a plain `def` dependency in the thread pool, a hop that
costs more than these attribute reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from stock_lstm.api.observability import request_id_of
from stock_lstm.api.v1.dependencies.security import RequireApiKey
from stock_lstm.api.v1.errors import ServiceUnavailable
from stock_lstm.api.v1.services.backtest import BacktestReport
from stock_lstm.api.v1.services.forecasts import ForecastService, NoForecasts
from stock_lstm.api.v1.services.model_store import NO_MODEL, LoadedModel
from stock_lstm.api.v1.services.monitoring import MonitoringReport
from stock_lstm.api.v1.services.serving import ModelSwitch
from stock_lstm.common.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_request_id(request: Request) -> str:
    return request_id_of(request.scope)


@dataclass(frozen=True)
class ServingStatus:
    """The model served (None when none) and why none is."""

    model: LoadedModel | None
    error: str | None


async def get_serving_status(request: Request) -> ServingStatus:
    """Never raises: /health answers with or without a model."""
    state = request.app.state
    return ServingStatus(state.model, state.model_error)


async def get_loaded_model(request: Request) -> LoadedModel:
    """The serving model, or 503 saying why there is none."""
    model = request.app.state.model
    if model is None:
        raise ServiceUnavailable(request.app.state.model_error or NO_MODEL, type="no_model")
    return model


async def get_forecast_service(request: Request) -> ForecastService | NoForecasts:
    """Never raises, so a bad body is a 422 even without a model (NoForecasts answers 503)."""
    return request.app.state.forecast_service


async def get_model_switch(request: Request) -> ModelSwitch:
    return request.app.state.model_switch


async def get_monitoring_report(request: Request) -> MonitoringReport:
    return request.app.state.monitoring_report


async def get_backtest_report(request: Request) -> BacktestReport:
    return request.app.state.backtest_report


async def get_actor(key_name: Annotated[str, RequireApiKey]) -> str:
    """Who changes the registry, for its audit trail: the name of the API key used."""
    return key_name


AppSettings = Annotated[Settings, Depends(get_app_settings)]
RequestId = Annotated[str, Depends(get_request_id)]
ServingModel = Annotated[LoadedModel, Depends(get_loaded_model)]
ModelStatus = Annotated[ServingStatus, Depends(get_serving_status)]
Forecasts = Annotated[ForecastService | NoForecasts, Depends(get_forecast_service)]
Switch = Annotated[ModelSwitch, Depends(get_model_switch)]
Monitoring = Annotated[MonitoringReport, Depends(get_monitoring_report)]
Backtest = Annotated[BacktestReport, Depends(get_backtest_report)]
Actor = Annotated[str, Depends(get_actor)]
