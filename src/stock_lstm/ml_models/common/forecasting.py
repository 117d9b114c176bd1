"""The one forecasting core, whatever runs the network (Keras in training and evaluation:
recurrent/inference.py; ONNX Runtime in the API: serving/onnx_forecaster.py): history checks,
inputs, outputs back to prices, intervals.

A model of any architecture fits when it maps a batch of windows of scaled log returns
(n, window, n_features) to scaled cumulative log returns for steps 1..max_horizon
(n, max_horizon). A runner (KerasForecaster, OnnxForecaster) only says how to run it
(`model_output`); nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stock_lstm.common.errors import ForecastInputError
from stock_lstm.ml_models.common.intervals import IntervalQuantiles
from stock_lstm.ml_models.common.scaling import scale_inputs, target_divisors
from stock_lstm.ml_models.common.series import log_returns, recent_volatility

DEFAULT_VOL_WINDOW = 20
BATCH_SIZE = 256  # point_batch pads to this size: one batch shape besides the single one


@dataclass(frozen=True)
class Forecast:
    """Forecast closes and interval bounds in price units, steps 1..horizon.

    Shape (horizon,) from `forecast`; (n, max_horizon) from `forecast_batch`.
    """

    close: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


class Forecaster:
    """Forecasts from closes with any model of the contract above; thread-safe.

    The forecast close for step k is ``last_close * exp(cumulative_k)``. The interval for step
    k is ``close * exp(±q_k * sigma)``, sigma the history's recent volatility and q_k the
    split-conformal quantile of validation scores (interval_calibration): the ticker's own when
    the calibration has them and the caller names the ticker, else the pooled ones. `scaler` is
    a fitted StandardScaler or its JSON parameters (scaling.scaler_parameters).
    """

    def __init__(
        self,
        *,
        window: int,
        n_features: int,
        max_horizon: int,
        scaler: Any,
        calibration: Mapping[str, Any] | None,
    ) -> None:
        calibration = dict(calibration or {})
        self.window, self.n_features, self.max_horizon = window, n_features, max_horizon
        self.min_history: int = window + 1
        for key, actual in (("window", window), ("max_horizon", max_horizon)):
            expected = calibration.get(key)
            if expected is not None and int(expected) != actual:
                raise ValueError(
                    f"interval_calibration was made for {key}={expected} but the model has "
                    f"{key}={actual}: load the calibration saved with this model version"
                )
        self.interval_level: float = float(calibration.get("level", math.nan))
        self.vol_window: int = min(int(calibration.get("vol_window", DEFAULT_VOL_WINDOW)), window)
        self._quantiles = IntervalQuantiles.from_calibration(calibration)
        if self._quantiles is not None:
            for owner, found in [("", self._quantiles.pooled), *self._quantiles.by_ticker.items()]:
                if found.shape != (max_horizon,):
                    raise ValueError(
                        f"interval_calibration has {found.size} quantiles"
                        f"{f' for {owner}' if owner else ''}, the model forecasts "
                        f"{max_horizon} steps"
                    )
        self._scaler = scaler
        self._divisors = target_divisors(scaler, max_horizon)

    @property
    def interval_tickers(self) -> list[str]:
        """The tickers whose bands use quantiles of their own (calibration scope "ticker")."""
        return sorted(self._quantiles.by_ticker) if self._quantiles is not None else []

    def model_output(self, batch: np.ndarray) -> np.ndarray:
        """The model's output (n, max_horizon) for a float32 batch (n, window, n_features)."""
        raise NotImplementedError

    # --- validation and inputs ---------------------------------------------------------------

    def _history(self, closes: Sequence[float] | np.ndarray) -> np.ndarray:
        try:
            values = np.asarray(closes, dtype="float64")
        except (TypeError, ValueError):
            raise ForecastInputError(
                "closes must be a sequence of numbers", argument="closes", kind="type_error"
            ) from None
        if values.ndim != 1:
            raise ForecastInputError(
                f"closes must be one-dimensional, got shape {values.shape}",
                argument="closes",
                kind="type_error",
            )
        if values.size < self.min_history:
            raise ForecastInputError(
                f"{values.size} closes given, the model needs at least {self.min_history} "
                f"(window {self.window} + 1)",
                argument="closes",
                kind="too_short",
            )
        values = values[-self.min_history :]
        bad = ~np.isfinite(values)
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            raise ForecastInputError(
                f"closes must be finite numbers: value {position} of the last "
                f"{self.min_history} is {values[position]}",
                argument="closes",
                kind="not_finite",
            )
        if (values <= 0).any():
            position = int(np.flatnonzero(values <= 0)[0])
            raise ForecastInputError(
                f"closes must be positive prices: value {position} of the last "
                f"{self.min_history} is {values[position]}",
                argument="closes",
                kind="not_positive",
            )
        return values

    def _check_horizon(self, horizon: int) -> int:
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
            raise ForecastInputError(
                f"horizon must be an integer, got {horizon!r}",
                argument="horizon",
                kind="type_error",
            )
        if not 1 <= horizon <= self.max_horizon:
            raise ForecastInputError(
                f"horizon {horizon} is outside 1..max_horizon {self.max_horizon}",
                argument="horizon",
                kind="out_of_range",
            )
        return int(horizon)

    def inputs(self, histories: np.ndarray) -> np.ndarray:
        """The model's input batch (n, window, n_features) for histories (n, min_history)."""
        return scale_inputs(log_returns(np.asarray(histories, "float64")), self._scaler)

    # --- forecasts ---------------------------------------------------------------------------

    def _cumulative(self, batch: np.ndarray) -> np.ndarray:
        """Model output (n, max_horizon) → cumulative log returns, float64."""
        return np.asarray(self.model_output(batch), dtype="float64") * self._divisors

    def _bounds(
        self, close: np.ndarray, sigma: np.ndarray, ticker: str | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if self._quantiles is None:
            raise ValueError("this forecaster has no interval calibration: pass the saved one")
        spread = np.exp(self._quantiles.of(ticker) * sigma[..., np.newaxis])
        return close / spread, close * spread

    def forecast(
        self, closes: Sequence[float] | np.ndarray, horizon: int, ticker: str | None = None
    ) -> Forecast:
        """Forecast closes for steps 1..horizon from a history of closes, oldest first.

        Uses the last `min_history` closes; `ticker` names a stored ticker whose own interval
        quantiles apply (None: a history of unknown origin, the pooled ones). Raises
        ForecastInputError for a too-short history, non-finite or non-positive values, or a
        horizon outside 1..max_horizon.
        """
        horizon = self._check_horizon(horizon)
        history = self._history(closes)
        returns = log_returns(history)
        x = scale_inputs(returns, self._scaler)[np.newaxis]
        close = history[-1] * np.exp(self._cumulative(x)[0])
        lower, upper = self._bounds(close, recent_volatility(returns, self.vol_window), ticker)
        return Forecast(close=close[:horizon], lower=lower[:horizon], upper=upper[:horizon])

    def point_batch(self, histories: np.ndarray) -> np.ndarray:
        """Forecast closes (n, max_horizon) for histories (n, min_history), without intervals."""
        histories = np.asarray(histories, dtype="float64")
        if histories.ndim != 2 or histories.shape[1] != self.min_history:
            raise ValueError(
                f"histories must have shape (n, {self.min_history}), got {histories.shape}"
            )
        if histories.shape[0] == 0:
            return np.empty((0, self.max_horizon))
        if not np.isfinite(histories).all() or (histories <= 0).any():
            raise ValueError("histories must hold finite, positive closes")
        x = self.inputs(histories)
        chunks = []
        for start in range(0, len(x), BATCH_SIZE):
            chunk = x[start : start + BATCH_SIZE]
            padded = np.concatenate([chunk, np.repeat(chunk[:1], BATCH_SIZE - len(chunk), 0)])
            chunks.append(self._cumulative(padded)[: len(chunk)])
        return histories[:, -1:] * np.exp(np.concatenate(chunks))

    def volatility(self, histories: np.ndarray) -> np.ndarray:
        """The interval scale (recent volatility of log returns) of each history: (n,)."""
        return recent_volatility(log_returns(np.asarray(histories, "float64")), self.vol_window)

    def forecast_batch(self, histories: np.ndarray, ticker: str | None = None) -> Forecast:
        """`forecast` for many histories (of one ticker, if named) at once: arrays of shape
        (n, max_horizon)."""
        close = self.point_batch(histories)
        lower, upper = self._bounds(close, self.volatility(histories), ticker)
        return Forecast(close=close, lower=lower, upper=upper)

    def warm_up(self) -> None:
        """Run the model once (at start-up), so the first request pays no set-up cost."""
        self.model_output(np.zeros((1, self.window, self.n_features), "float32"))
