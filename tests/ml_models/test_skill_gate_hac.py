"""The skill gate's Diebold–Mariano test scales by a HAC (long-run) variance: on an
autocorrelated loss difference a plain variance would call a model skilled that is not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from stock_lstm.ml_models.common.significance import diebold_mariano
from stock_lstm.ml_models.recurrent.keras_training import skill_p_values

LEVEL = 0.05


def test_skill_gate_uses_a_hac_variance_where_a_plain_one_would_claim_skill() -> None:
    # d = |e_model| - |e_naive|: MA(9) of white noise (overlapping 10-step targets), shifted
    # so the model looks slightly better than naive
    horizon, n = 10, 500
    noise = np.random.default_rng(7).standard_normal(n + horizon - 1)
    overlapping = 0.1 * np.convolve(noise, np.ones(horizon), mode="valid")
    d = overlapping - overlapping.mean() - 0.045  # mean exactly -0.045
    naive_errors = np.full((n, 1), 5.0)
    model_errors = naive_errors + d[:, None]  # |5 + d| - |5| = d (|d| < 5)
    assert np.all(np.abs(d) < 5)
    plain_p = stats.norm.cdf(d.mean() / (d.std(ddof=1) / np.sqrt(n)))
    assert plain_p < LEVEL  # a plain variance would pass the gate

    p_value = skill_p_values(model_errors, naive_errors)[0]

    assert p_value > LEVEL  # the HAC variance (overlap-aware) does not


def test_the_gate_uses_the_backtests_dm_test_one_sided_per_step() -> None:
    """One home for the statistic: step k's p-value is significance.diebold_mariano's
    one-sided ("less") p-value with horizon k (at least k-1 HAC lags, HLN)."""
    rng = np.random.default_rng(3)
    naive = rng.normal(0, 1, (300, 5))
    model = naive * rng.uniform(0.7, 1.2, (1, 5)) + rng.normal(0, 0.3, (300, 5))
    d = np.abs(model) - np.abs(naive)

    p_values = skill_p_values(model, naive)

    for k in range(1, 6):
        result = diebold_mariano(d[:, k - 1], k, alternative="less")
        assert result.lags is not None and result.lags >= k - 1
        assert p_values[k - 1] == pytest.approx(result.p_value)
    # too few windows for a 30-step test: undefined, so no skill shown (p = 1)
    assert skill_p_values(model[:40, :1] * 0.5, naive[:40, :1])[0] < 0.05
    short = np.zeros((40, 30))
    short[:, 29] = -0.1 * rng.uniform(0.5, 1.5, 40)
    assert skill_p_values(short + naive[:40, :1], np.tile(naive[:40, :1], 30))[29] == 1.0
