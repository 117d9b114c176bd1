"""The LSTM architecture: a window of scaled log returns → cumulative log returns, steps 1..H.

Direct multi-output: one forward pass gives every step (no recursion, so no compounding of
errors). The output layer starts at zero weights and bias, so the untrained model IS the naive
forecast (zero return = tomorrow's close is today's); training moves it away from naive only
as far as the training loss rewards, and early stopping on validation decides how far to keep.
"""

from __future__ import annotations

import keras

from stock_lstm.ml_models.recurrent.network import build_recurrent


def build_model(window: int, max_horizon: int, **knobs) -> keras.Model:
    """A compiled stacked-LSTM regressor (every knob comes from parameters_training.yml)."""
    return build_recurrent(keras.layers.LSTM, "lstm", window, max_horizon, **knobs)
