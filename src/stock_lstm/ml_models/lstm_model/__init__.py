"""The LSTM architecture (model.py), the default `training.model_type`. What it shares with the
GRU (training, calibration, inference, evaluation) is in recurrent/; what every model shares
(series, splits, scaling, windows, intervals, metrics) in common/."""
