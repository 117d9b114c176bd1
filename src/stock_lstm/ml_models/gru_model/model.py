"""The GRU architecture: a window of scaled log returns → cumulative log returns, steps 1..H.

A GRU has two gates to the LSTM's three, so a third fewer weights per unit, and often fits as
well on short noisy series. Same contract as lstm_model/model.py: direct multi-output, output
layer at zero weights and bias, so the untrained model IS the naive forecast.
"""

from __future__ import annotations

import keras

from stock_lstm.ml_models.recurrent.network import build_recurrent


def build_model(window: int, max_horizon: int, **knobs) -> keras.Model:
    """A compiled stacked-GRU regressor (the knobs of `training.model`)."""
    return build_recurrent(keras.layers.GRU, "gru", window, max_horizon, **knobs)
