"""What the Keras forecasters share: the zero-initialised multi-step head, compilation, and
building from the `training.model` parameters. Each architecture (lstm_model/model.py,
gru_model/model.py) only stacks its recurrent layers in front."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras


def build_recurrent(
    layer: type[keras.layers.Layer],
    kind: str,
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
    """A compiled stack of `layers` recurrent layers of one kind (`layer`, named `<kind>_<n>`)
    under the shared head: what the model packages differ in is only the recurrent layer."""
    if window < 2 or max_horizon < 1 or units < 1 or layers < 1:
        raise ValueError(
            f"invalid architecture: window={window}, max_horizon={max_horizon}, "
            f"units={units}, layers={layers}"
        )
    inputs = keras.Input(shape=(window, n_features), name="scaled_log_returns")
    hidden = inputs
    for depth in range(layers):
        hidden = layer(
            units,
            return_sequences=depth < layers - 1,
            dropout=dropout,
            name=f"{kind}_{depth + 1}",
        )(hidden)
    return compile_forecaster(
        inputs,
        hidden,
        max_horizon,
        name=f"{kind}_forecaster",
        learning_rate=learning_rate,
        loss=loss,
        huber_delta=huber_delta,
        clipnorm=clipnorm,
    )


def compile_forecaster(
    inputs: keras.KerasTensor,
    hidden: keras.KerasTensor,
    max_horizon: int,
    *,
    name: str,
    learning_rate: float,
    loss: str,
    huber_delta: float,
    clipnorm: float | None,
) -> keras.Model:
    """The dense head (steps 1..max_horizon at zero weights and bias: the untrained model IS
    the naive forecast) on `hidden`, compiled with Adam and the chosen loss."""
    outputs = keras.layers.Dense(
        max_horizon,
        kernel_initializer="zeros",
        bias_initializer="zeros",
        name="scaled_cumulative_log_returns",
    )(hidden)
    model = keras.Model(inputs, outputs, name=name)
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


def build_from_params(build: Callable[..., keras.Model], params: Mapping[str, Any]) -> keras.Model:
    """`build(window, max_horizon, **knobs)` from the `training.model` parameters block."""
    return build(
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
