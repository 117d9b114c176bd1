"""What routers get through `Depends`: the app state set up in the lifespan, the request id, and
the API key check of endpoints that change state."""

from stock_lstm.api.v1.dependencies.security import RequireApiKey
from stock_lstm.api.v1.dependencies.state import (
    Actor,
    AppSettings,
    DatabaseUrl,
    Forecasts,
    RequestId,
    ServingModel,
    Switch,
)

__all__ = [
    "Actor",
    "AppSettings",
    "DatabaseUrl",
    "Forecasts",
    "RequestId",
    "RequireApiKey",
    "ServingModel",
    "Switch",
]
