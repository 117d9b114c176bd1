"""The LSTM architecture: a window of scaled log returns → cumulative log returns, steps 1..H.

Direct multi-output: one forward pass gives every step (no recursion, so no compounding of
errors). The output layer starts at zero weights and bias, so the untrained model IS the naive
forecast (zero return = tomorrow's close is today's); training moves it away from naive only
as far as the training loss rewards, and early stopping on validation decides how far to keep.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras


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
    outputs = keras.layers.Dense(
        max_horizon,
        kernel_initializer="zeros",
        bias_initializer="zeros",
        name="scaled_cumulative_log_returns",
    )(hidden)
    model = keras.Model(inputs, outputs, name="lstm_forecaster")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm),
        loss=_loss(loss, huber_delta),
        metrics=["mae"],
    )
    return model


def _loss(name: str, huber_delta: float) -> keras.losses.Loss:
    if name == "huber":
        return keras.losses.Huber(delta=huber_delta)
    if name == "mae":
        return keras.losses.MeanAbsoluteError()
    if name == "mse":
        return keras.losses.MeanSquaredError()
    raise ValueError(f"unknown loss {name!r}: use 'huber', 'mae' or 'mse'")


def build_from_params(params: Mapping[str, Any]) -> keras.Model:
    """`build_model` from the `training.model` parameters block."""
    return build_model(
        int(params["window"]),
        int(params["max_horizon"]),
        units=int(params.get("units", 32)),
        layers=int(params.get("layers", 1)),
        dropout=float(params.get("dropout", 0.0)),
        learning_rate=float(params.get("learning_rate", 1e-3)),
        loss=str(params.get("loss", "huber")),
        huber_delta=float(params.get("huber_delta", 1.0)),
        clipnorm=params.get("clipnorm", 1.0),
    )
