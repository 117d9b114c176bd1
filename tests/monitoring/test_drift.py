"""PSI and KS by hand; the drift frame on samples with a known shift."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.monitoring.drift import (
    DRIFT_COLUMNS,
    drift_statistics,
    population_stability_index,
    ticker_drift,
)

PARAMS = {
    "recent_days": 60,
    "psi_bins": 10,
    "psi_epsilon": 1e-4,
    "ks_threshold": 0.3,
    "psi_threshold": 0.5,
}


def test_psi_by_hand() -> None:
    # two bins split at the reference's median 4.5: reference shares 1/2, 1/2;
    # recent [0, 1, 2, 8]: 3/4 and 1/4.
    # PSI = (3/4 - 1/2) ln(3/2) + (1/4 - 1/2) ln(1/2) = (ln 3/2 + ln 2) / 4 = ln(3) / 4
    psi = population_stability_index(np.arange(10.0), np.array([0.0, 1.0, 2.0, 8.0]), 2, 1e-4)
    assert psi == pytest.approx(math.log(3) / 4)


def test_psi_floors_an_empty_bin_at_epsilon() -> None:
    eps = 1e-3
    psi = population_stability_index(np.arange(10.0), np.zeros(5), 2, eps)
    assert psi == pytest.approx((1 - 0.5) * math.log(1 / 0.5) + (eps - 0.5) * math.log(eps / 0.5))


def test_psi_of_a_sample_against_itself_is_zero() -> None:
    sample = np.random.default_rng(0).normal(size=500)
    assert population_stability_index(sample, sample, 10, 1e-4) == pytest.approx(0.0)


def _features(reference: np.ndarray, recent: np.ndarray, ticker: str = "AAA") -> pd.DataFrame:
    returns = np.concatenate([reference, recent])
    dates = pd.bdate_range("2020-01-01", periods=returns.size)
    return pd.DataFrame({"ticker": ticker, "date": dates, "log_return": returns})


def test_ks_by_hand_two_sided_for_returns_one_sided_for_volatility() -> None:
    # reference 1..4 (x 1e-3) repeated, recent 3..6: the empirical CDFs differ by at most 1/2
    # (at 2 and at 4), and recent is larger, so the one-sided statistic is 1/2 as well.
    reference = np.tile([1.0, 2.0, 3.0, 4.0], 25) * 1e-3
    recent = np.tile([3.0, 4.0, 5.0, 6.0], 15) * 1e-3
    frame = _features(reference, recent)
    end = frame["date"].iloc[reference.size].date()
    drift = drift_statistics(frame, end, frame["date"].iloc[-1].date(), PARAMS)
    assert list(drift.columns) == list(DRIFT_COLUMNS)
    rows = drift.set_index("feature")
    assert rows.loc["log_return", "ks"] == pytest.approx(0.5)
    assert rows.loc["abs_log_return", "ks"] == pytest.approx(0.5)
    assert (rows["n_reference"] == 100).all()
    assert (rows["n_recent"] == 60).all()


def test_a_wilder_market_drifts_a_calmer_one_not_in_volatility() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(0, 0.01, 750)
    wild = _features(reference, rng.normal(0, 0.04, 60))
    calm = _features(reference, rng.normal(0, 0.0025, 60))
    end = wild["date"].iloc[750].date()
    last = wild["date"].iloc[-1].date()
    wild_rows = drift_statistics(wild, end, last, PARAMS).set_index("feature")
    calm_rows = drift_statistics(calm, end, last, PARAMS).set_index("feature")
    assert wild_rows["flag"].all()
    assert calm_rows.loc["abs_log_return", "ks"] == pytest.approx(0.0, abs=0.02)
    assert not calm_rows.loc["abs_log_return", "flag"]
    assert ticker_drift(drift_statistics(wild, end, last, PARAMS))["flag"].tolist() == [True]


def test_the_same_law_does_not_drift() -> None:
    rng = np.random.default_rng(2)
    frame = _features(rng.normal(0, 0.01, 750), rng.normal(0, 0.01, 60))
    drift = drift_statistics(
        frame, frame["date"].iloc[750].date(), frame["date"].iloc[-1].date(), PARAMS
    )
    assert not drift["flag"].any()
    assert (drift["ks"] < 0.3).all()


def test_both_thresholds_must_be_crossed() -> None:
    rng = np.random.default_rng(1)
    frame = _features(rng.normal(0, 0.01, 750), rng.normal(0, 0.04, 60))
    end, last = frame["date"].iloc[750].date(), frame["date"].iloc[-1].date()
    drift = drift_statistics(frame, end, last, PARAMS)
    high_psi = {**PARAMS, "psi_threshold": float(drift["psi"].max()) + 1}
    high_ks = {**PARAMS, "ks_threshold": 1.0}
    assert not drift_statistics(frame, end, last, high_psi)["flag"].any()
    assert not drift_statistics(frame, end, last, high_ks)["flag"].any()


def test_too_little_data_gives_no_figures_and_no_flag() -> None:
    rng = np.random.default_rng(3)
    frame = _features(rng.normal(0, 0.01, 5), rng.normal(0, 0.05, 30))
    end = frame["date"].iloc[5].date()
    drift = drift_statistics(frame, end, frame["date"].iloc[-1].date(), PARAMS)
    assert drift["ks"].isna().all() and drift["psi"].isna().all()
    assert not drift["flag"].any()
    assert drift["n_recent"].tolist() == [35, 35]  # fewer than recent_days = 60
    assert drift["n_reference"].tolist() == [5, 5]  # fewer than psi_bins = 10


def test_recent_sample_ends_at_as_of() -> None:
    rng = np.random.default_rng(4)
    frame = _features(rng.normal(0, 0.01, 750), rng.normal(0, 0.05, 60))
    end = frame["date"].iloc[750].date()
    before = frame["date"].iloc[749].date()  # the turbulent days are after as_of
    drift = drift_statistics(frame, end, before, PARAMS)
    assert not drift["flag"].any()


def test_an_empty_reference_period_is_refused() -> None:
    frame = _features(np.zeros(10), np.zeros(10))
    with pytest.raises(InputError, match="reference period is empty"):
        drift_statistics(
            frame, dt.date(2020, 1, 1), dt.date(2021, 1, 1), PARAMS, dt.date(2020, 1, 1)
        )


def test_missing_parameters_are_named() -> None:
    frame = _features(np.zeros(10), np.zeros(10))
    params = {k: v for k, v in PARAMS.items() if k != "psi_threshold"}
    with pytest.raises(InputError, match="lack psi_threshold"):
        drift_statistics(frame, dt.date(2020, 1, 10), dt.date(2021, 1, 1), params)


def test_a_parameter_of_the_wrong_kind_is_named() -> None:
    frame = _features(np.zeros(10), np.zeros(10))
    with pytest.raises(
        InputError, match="drift parameter psi_bins must be a whole number, got 'ten'"
    ):
        drift_statistics(
            frame, dt.date(2020, 1, 10), dt.date(2021, 1, 1), {**PARAMS, "psi_bins": "ten"}
        )
