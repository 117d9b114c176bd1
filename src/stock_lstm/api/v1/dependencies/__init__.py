"""What routers get through `Depends`: the app state set up in the lifespan, and the request id."""

from stock_lstm.api.v1.dependencies.state import DatabaseUrl, Forecasts, RequestId, ServingModel

__all__ = ["DatabaseUrl", "Forecasts", "RequestId", "ServingModel"]
