"""The LSTM forecaster: preprocess, model, train, predict, evaluate."""
