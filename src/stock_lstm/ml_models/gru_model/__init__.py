"""The GRU forecaster: the second network, on the LSTM's exact contract.

Only the architecture is its own (model.py). A window of scaled log returns in, scaled
cumulative log returns of steps 1..max_horizon out, head initialised at zero so the untrained
model is the naive forecast: so it shares the preprocessing (lstm_model/preprocess.py), the
training loop (ml_models/keras_training.py), the inference path (lstm_model/predict.Forecaster,
also the one the API serves), the interval calibration and evaluation, and the catalog entry
`lstm_model`. Choose it with `training.model_type: gru`.
"""
