"""What every model package shares, free of TensorFlow so the serving runtime can import it:
metrics, interval calibration, baselines, origins over a period, the walk-forward harness and
plots. A model package (lstm_model/, gru_model/) holds only what is its own."""
