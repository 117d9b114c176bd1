"""The GRU architecture: a window of scaled log returns → cumulative log returns, steps 1..H.

A GRU has two gates to the LSTM's three, so a third fewer weights per unit, and often fits as
well on short noisy series. Same contract as lstm_model/model.py: direct multi-output, output
layer at zero weights and bias, so the untrained model IS the naive forecast.
"""

from __future__ import annotations

import keras

from stock_lstm.ml_models.network import compile_forecaster


def build_model(
    window: int,
    max_horizon: int,
    *,
    n_features: int = 1,
    units: int = 32,
    layers: int = 1,
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
    loss: str = "huber",
    huber_delta: float = 1.0,
    clipnorm: float | None = 1.0,
) -> keras.Model:
    """A compiled stacked-GRU regressor (the knobs of `training.model`)."""
    if window < 2 or max_horizon < 1 or units < 1 or layers < 1:
        raise ValueError(
            f"invalid architecture: window={window}, max_horizon={max_horizon}, "
            f"units={units}, layers={layers}"
        )
    inputs = keras.Input(shape=(window, n_features), name="scaled_log_returns")
    hidden = inputs
    for depth in range(layers):
        hidden = keras.layers.GRU(
            units, return_sequences=depth < layers - 1, dropout=dropout, name=f"gru_{depth + 1}"
        )(hidden)
    return compile_forecaster(
        inputs,
        hidden,
        max_horizon,
        name="gru_forecaster",
        learning_rate=learning_rate,
        loss=loss,
        huber_delta=huber_delta,
        clipnorm=clipnorm,
    )
