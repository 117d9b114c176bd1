"""Interval calibration scopes: pooled quantiles, each ticker's own, and which a forecast gets."""

from __future__ import annotations

import numpy as np
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.intervals import (
    CalibrationSample,
    IntervalQuantiles,
    calibrate,
    calibrate_quantiles,
    check_scope,
    conformal_quantile,
    nonconformity_scores,
    volatility_bands,
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
    # whole numbers in the JSON still give float quantiles
    whole = IntervalQuantiles.from_calibration(
        {"quantiles": [1, 2], "ticker_quantiles": {"A": [3]}}
    )
    assert whole.pooled.dtype == np.float64 and whole.of("A").dtype == np.float64


def test_the_conformal_quantile_is_the_ceil_n_plus_one_level_th_smallest_score() -> None:
    scores = np.array([5.0, 1.0, 4.0, 2.0, 3.0])  # unsorted on purpose
    assert conformal_quantile(scores, 0.5) == 3.0  # ceil(6 * 0.5) = 3rd smallest
    assert conformal_quantile(scores, 0.6) == 4.0  # ceil(3.6) = 4th
    assert conformal_quantile(scores, 0.8) == 5.0  # ceil(4.8) = 5th: the largest
    assert conformal_quantile(scores, 0.9) == np.inf  # ceil(5.4) = 6th of 5: no guarantee
    assert conformal_quantile([0.2], 0.49) == 0.2  # ceil(0.98) = 1st


@pytest.mark.parametrize("level", [0.0, 1.0])
def test_the_conformal_quantile_refuses_a_level_outside_zero_one(level: float) -> None:
    with pytest.raises(ValueError, match=f"interval level must be in \\(0, 1\\), got {level}"):
        conformal_quantile(np.arange(10.0), level)


def _two_step_sample() -> CalibrationSample:
    """Three origins, two steps; step 2's last target lies beyond validation."""
    return CalibrationSample(
        points=np.array([[100.0, 100.0], [50.0, 40.0], [10.0, 10.0]]),
        sigmas=np.array([0.5, 2.0, 1.0]),
        targets=[
            (np.array([True, True, True]), np.array([100.0 * np.e, 50.0 / np.e**2, 10.0])),
            (np.array([True, True, False]), np.array([100.0 / np.e, 40.0 * np.e**4])),
        ],
    )


def test_nonconformity_scores_are_absolute_log_errors_over_sigma_of_each_step() -> None:
    sample = _two_step_sample()
    np.testing.assert_allclose(nonconformity_scores(sample, 1), [1 / 0.5, 2 / 2.0, 0.0])
    np.testing.assert_allclose(nonconformity_scores(sample, 2), [1 / 0.5, 4 / 2.0])


def test_pooled_quantiles_count_each_steps_scores_and_name_too_few() -> None:
    quantiles, counts = calibrate_quantiles([_two_step_sample(), _two_step_sample()], 0.5, 2)
    # step 1: scores 2, 1, 0 twice, ceil(7 * 0.5) = 4th smallest; step 2: 2, 2, 2, 2
    assert quantiles == [1.0, 2.0] and counts == [6, 4]
    assert all(type(q) is float for q in quantiles)
    with pytest.raises(
        InputError,
        match=r"too few validation origins \(2\) to calibrate a 70% interval at step 2: ",
    ):
        calibrate_quantiles([_two_step_sample()], 0.7, 2)  # ceil(3 * 0.7) = 3rd of 2 scores
    assert calibrate_quantiles([_two_step_sample()], 0.5, 1) == ([1.0], [3])
    with pytest.raises(InputError, match=r"too few validation origins \(0\)"):
        calibrate_quantiles([], 0.5, 1)  # no ticker at all: no scores, no quantile


def test_ticker_scope_quantiles_per_step() -> None:
    quantiles, _ = calibrate({"A": _two_step_sample()}, 0.5, 2, "ticker")
    np.testing.assert_allclose(quantiles.by_ticker["A"], [1.0, 2.0])
    np.testing.assert_allclose(quantiles.pooled, [1.0, 2.0])
    assert check_scope("pooled") == "pooled" and check_scope("ticker") == "ticker"


def test_volatility_bands_scale_each_step_by_its_quantile_times_sigma() -> None:
    close = np.array([[100.0, 110.0], [50.0, 55.0], [10.0, 20.0]])  # 3 origins, 2 steps
    sigma = np.array([0.1, 0.2, 0.05])
    bands = volatility_bands(close, [1.0, 2.0, 3.0, 4.0], sigma)  # steps 3 and 4 unused
    spread = np.exp(np.array([[0.1, 0.2], [0.2, 0.4], [0.05, 0.1]]))
    np.testing.assert_allclose(bands.close, close)
    np.testing.assert_allclose(bands.lower, close / spread)
    np.testing.assert_allclose(bands.upper, close * spread)
