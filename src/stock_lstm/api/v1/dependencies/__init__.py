"""What routers get through `Depends`: the app state set up in the lifespan (among it the
`Database`, and a session per request: `SessionDep`), the request id, and the API key check of
endpoints that change state."""

from stock_lstm.api.v1.dependencies.database import DatabaseDep, SessionDep
from stock_lstm.api.v1.dependencies.security import RequireApiKey
from stock_lstm.api.v1.dependencies.state import (
    Actor,
    AppSettings,
    Backtest,
    Forecasts,
    ModelStatus,
    Monitoring,
    RequestId,
    ServingModel,
    Switch,
)

__all__ = [
    "Actor",
    "AppSettings",
    "Backtest",
    "DatabaseDep",
    "Forecasts",
    "ModelStatus",
    "Monitoring",
    "RequestId",
    "RequireApiKey",
    "ServingModel",
    "SessionDep",
    "Switch",
]
