"""The HTTP service. Orchestrates only: schemas validate, ml_models forecasts, crud reads/writes."""
