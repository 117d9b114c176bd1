"""What every model shares, TensorFlow-free and model-agnostic, so the serving runtime can import
it: series, splits, scaling, windows, the forecasting core, metrics, interval calibration,
baselines, origins over a period, the walk-forward harness and plots. It imports no model
package (an import-linter contract); lstm_model/ and gru_model/ hold only their architecture."""
