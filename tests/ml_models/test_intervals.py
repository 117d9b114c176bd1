"""Interval calibration scopes: pooled quantiles, each ticker's own, and which a forecast gets."""

from __future__ import annotations

import numpy as np
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.intervals import (
    CalibrationSample,
    IntervalQuantiles,
    calibrate,
    conformal_quantile,
)


def _sample(scores: np.ndarray) -> CalibrationSample:
    """One step (max_horizon 1) whose scores are exactly `scores`: forecast 100, sigma 1,
    actual 100 * exp(score)."""
    n = scores.size
    return CalibrationSample(
        points=np.full((n, 1), 100.0),
        sigmas=np.ones(n),
        targets=[(np.ones(n, dtype=bool), 100.0 * np.exp(scores))],
    )


@pytest.fixture
def samples() -> dict[str, CalibrationSample]:
    return {
        "CALM": _sample(np.linspace(0.1, 2.0, 20)),
        "WILD": _sample(np.linspace(0.1, 2.0, 20) * 3),
    }


def test_ticker_scope_gives_each_ticker_its_own_conformal_quantile(samples) -> None:
    quantiles, counts = calibrate(samples, 0.9, 1, "ticker")
    calm, wild = (np.linspace(0.1, 2.0, 20) * f for f in (1, 3))
    assert counts == [40]
    assert quantiles.pooled[0] == pytest.approx(conformal_quantile(np.r_[calm, wild], 0.9))
    # ceil(21 * 0.9) = 19th smallest of each ticker's 20 scores
    assert quantiles.by_ticker["CALM"][0] == pytest.approx(calm[18])
    assert quantiles.by_ticker["WILD"][0] == pytest.approx(wild[18])
    assert quantiles.of("WILD")[0] > quantiles.of(None)[0] > quantiles.of("CALM")[0]
    assert quantiles.of("UNSEEN") is quantiles.pooled


def test_pooled_scope_stores_no_ticker_quantiles(samples) -> None:
    quantiles, _ = calibrate(samples, 0.9, 1, "pooled")
    assert dict(quantiles.by_ticker) == {}
    assert quantiles.of("WILD") is quantiles.pooled


def test_a_ticker_too_short_for_its_own_quantile_keeps_the_pooled_one(samples) -> None:
    few = {**samples, "NEW": _sample(np.array([0.5, 0.7, 0.9]))}  # 3 scores: no finite q_0.9
    quantiles, _ = calibrate(few, 0.9, 1, "ticker")
    assert "NEW" not in quantiles.by_ticker and quantiles.of("NEW") is quantiles.pooled


def test_an_unknown_scope_is_named(samples) -> None:
    with pytest.raises(InputError, match="training.intervals.scope must be one of pooled, ticker"):
        calibrate(samples, 0.9, 1, "sector")


def test_quantiles_read_back_from_a_saved_calibration() -> None:
    read = IntervalQuantiles.from_calibration(
        {"quantiles": [1.0, 2.0], "ticker_quantiles": {"MSFT": [0.5, 1.5]}}
    )
    assert read is not None
    np.testing.assert_array_equal(read.of("MSFT"), [0.5, 1.5])
    np.testing.assert_array_equal(read.of("GOOG"), [1.0, 2.0])
    # made before scopes existed: no ticker_quantiles key
    older = IntervalQuantiles.from_calibration({"quantiles": [1.0, 2.0]})
    assert older is not None and dict(older.by_ticker) == {}
    assert IntervalQuantiles.from_calibration({}) is None
