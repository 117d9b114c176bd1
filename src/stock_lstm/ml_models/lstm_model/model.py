"""The LSTM architecture: a window of scaled log returns → cumulative log returns, steps 1..H.

Direct multi-output: one forward pass gives every step (no recursion, so no compounding of
errors). The output layer starts at zero weights and bias, so the untrained model IS the naive
forecast (zero return = tomorrow's close is today's); training moves it away from naive only
as far as the training loss rewards, and early stopping on validation decides how far to keep.
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
    """A compiled stacked-LSTM regressor (every knob comes from parameters_training.yml)."""
    if window < 2 or max_horizon < 1 or units < 1 or layers < 1:
        raise ValueError(
            f"invalid architecture: window={window}, max_horizon={max_horizon}, "
            f"units={units}, layers={layers}"
        )
    inputs = keras.Input(shape=(window, n_features), name="scaled_log_returns")
    hidden = inputs
    for depth in range(layers):
        hidden = keras.layers.LSTM(
            units,
            return_sequences=depth < layers - 1,
            dropout=dropout,
            name=f"lstm_{depth + 1}",
        )(hidden)
    return compile_forecaster(
        inputs,
        hidden,
        max_horizon,
        name="lstm_forecaster",
        learning_rate=learning_rate,
        loss=loss,
        huber_delta=huber_delta,
        clipnorm=clipnorm,
    )
