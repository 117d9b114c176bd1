"""stock-lstm: versioned stock prices in SQL, an LSTM forecaster, and a FastAPI service."""

__version__ = "0.1.0"
