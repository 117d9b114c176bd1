"""The GRU architecture (model.py): the second network, on the LSTM's exact contract.

A window of scaled log returns in, scaled cumulative log returns of steps 1..max_horizon out,
head initialised at zero so the untrained model is the naive forecast: so everything else is
shared, the preprocessing (common/), the training loop, interval calibration, Keras inference
and evaluation (recurrent/), the ONNX export and serving (serving/) and the catalog entry
`lstm_model`. Choose it with `training.model_type: gru`.
"""
