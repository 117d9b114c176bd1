"""Point and interval metrics, in price units: one home for every report (evaluation, backtest)."""

from __future__ import annotations

import numpy as np


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - forecast)))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - forecast) ** 2)))


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error, in percent."""
    return float(np.mean(np.abs((actual - forecast) / actual)) * 100.0)


def directional_accuracy(origin: np.ndarray, actual: np.ndarray, forecast: np.ndarray) -> float:
    """Share of origins where the forecast moves in the direction the price moved.

    A forecast of no change never counts as right unless the price did not move either, so the
    naive forecast scores (almost) zero here: the metric only means something for models that
    forecast a move.
    """
    return float(np.mean(np.sign(forecast - origin) == np.sign(actual - origin)))


def point_metrics(origin: np.ndarray, actual: np.ndarray, forecast: np.ndarray) -> dict[str, float]:
    """Every point metric of one forecast against the actuals, keyed as the reports name them."""
    return {
        "mae": mae(actual, forecast),
        "rmse": rmse(actual, forecast),
        "mape": mape(actual, forecast),
        "directional_accuracy": directional_accuracy(origin, actual, forecast),
    }


def ratio_or_none(numerator: float, denominator: float) -> float | None:
    """A ratio of errors, or None when the denominator is zero (a flat period): never NaN, which
    is not JSON and which PostgreSQL's JSON type rejects."""
    return numerator / denominator if denominator > 0 else None


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean((actual >= lower) & (actual <= upper)))


def mean_width(lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean(upper - lower))


def winkler_score(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> float:
    """Mean interval (Winkler) score of central `level` intervals: lower is better.

    Width, plus 2/alpha times the distance by which the actual falls outside (alpha = 1 - level):
    it rewards narrow bands and punishes misses in proportion to how far they miss, so two
    models' intervals can be compared even when both cover about `level` of the actuals.
    """
    if not 0 < level < 1:
        raise ValueError(f"interval level must be in (0, 1), got {level}")
    alpha = 1.0 - level
    below = np.maximum(lower - actual, 0.0)
    above = np.maximum(actual - upper, 0.0)
    return float(np.mean((upper - lower) + (2.0 / alpha) * (below + above)))
