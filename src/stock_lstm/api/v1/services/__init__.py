"""What the routers call: model loading, forecasting, stored-data reads, the prediction log."""
