"""The skill gate's Diebold–Mariano test scales by a HAC (long-run) variance: on an
autocorrelated loss difference a plain variance would call a model skilled that is not."""

from __future__ import annotations

import numpy as np
from scipy import stats

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
