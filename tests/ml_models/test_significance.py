"""The significance tests against hand computations and constructed cases: DM with HAC variance
(an autocorrelated loss differential a plain variance would call significant), the HLN factor,
Holm, Pesaran–Timmermann, SPA and the model confidence set."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest
from arch.bootstrap import StationaryBootstrap
from arch.covariance.kernel import Bartlett
from scipy import stats
from statsmodels.stats.multitest import multipletests

from stock_lstm.ml_models.common.significance import (
    diebold_mariano,
    geometric_mean_ratio,
    hln_factor,
    holm,
    model_confidence_set,
    pesaran_timmermann,
    superior_predictive_ability,
)


def test_dm_uses_a_hac_variance_where_a_plain_one_would_reject() -> None:
    # a 10-step loss differential: MA(9) of white noise (overlapping targets), shifted by a
    # mean a plain t-test calls significant
    horizon, n = 10, 500
    noise = np.random.default_rng(7).standard_normal(n + horizon - 1)
    d = np.convolve(noise, np.ones(horizon), mode="valid") + 1.0
    plain_t = d.mean() / (d.std(ddof=1) / np.sqrt(n))
    plain_p = 2 * stats.t.sf(abs(plain_t), n - 1)
    assert plain_p < 0.05  # the plain variance would claim a difference

    result = diebold_mariano(d, horizon)

    assert result.lags is not None and result.lags >= horizon - 1
    assert result.p_value is not None and result.p_value > 0.05
    assert result.n == n


def test_dm_statistic_and_hln_correction_match_a_hand_computation() -> None:
    d = np.array([0.4, -0.1, 0.3, 0.5, -0.2, 0.1, 0.6, 0.2, -0.3, 0.4, 0.0, 0.3])
    n, horizon, lags = d.size, 2, 1
    centred = d - d.mean()
    gamma0 = centred @ centred / n
    gamma1 = centred[1:] @ centred[:-1] / n
    long_run = gamma0 + 2 * (1 - 1 / (lags + 1)) * gamma1  # Bartlett weight for lag 1
    dm = d.mean() / np.sqrt(long_run / n)
    factor = np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    expected_p = 2 * stats.t.sf(abs(dm * factor), n - 1)

    result = diebold_mariano(d, horizon, lags=lags)

    assert hln_factor(n, horizon) == pytest.approx(factor)
    assert result.statistic == pytest.approx(dm * factor)
    assert result.p_value == pytest.approx(expected_p)
    with pytest.raises(ValueError, match="too short"):
        diebold_mariano(d, horizon=5, lags=2)


def test_dm_on_identical_forecasts_finds_no_difference() -> None:
    result = diebold_mariano(np.zeros(100), 1)
    assert result.statistic is None
    assert result.p_value == 1.0


def test_dm_sign_says_which_model_has_the_lower_loss() -> None:
    d = np.random.default_rng(1).standard_normal(400) - 0.5  # the model's loss is lower
    result = diebold_mariano(d, 1)
    assert result.statistic is not None and result.statistic < 0
    assert result.p_value is not None and result.p_value < 0.001


def test_dm_one_sided_less_is_the_lower_tail_of_the_same_statistic() -> None:
    rng = np.random.default_rng(2)
    for shift in (-0.2, 0.2):  # the model's loss lower, then higher
        d = rng.standard_normal(300) + shift
        two_sided = diebold_mariano(d, 3)
        less = diebold_mariano(d, 3, alternative="less")
        assert less.statistic == two_sided.statistic and less.lags == two_sided.lags
        assert less.p_value == pytest.approx(stats.t.cdf(two_sided.statistic, 299))
        half = two_sided.p_value / 2
        assert less.p_value == pytest.approx(half if shift < 0 else 1 - half)
    assert diebold_mariano(np.zeros(50), 2, alternative="less").p_value == 1.0
    with pytest.raises(ValueError, match="alternative must be one of"):
        diebold_mariano(d, 3, alternative="greater")


def test_holm_matches_statsmodels_and_a_hand_computation() -> None:
    p = {"A": 0.01, "B": 0.04, "C": 0.03, "D": None}

    adjusted = holm(p)

    # by hand: sorted 0.01, 0.03, 0.04 times 3, 2, 1, then running maximum
    assert adjusted == pytest.approx({"A": 0.03, "B": 0.06, "C": 0.06, "D": None})
    # ties, p-values the correction lifts above 1 (capped), any order: statsmodels' numbers
    raw = np.round(np.random.default_rng(3).uniform(0, 0.6, 22), 2)
    gc.freeze()  # multipletests runs gc.collect() per call: the objects alive now sit it out
    try:
        reference = multipletests([0.01, 0.04, 0.03], method="holm")[1]
        many = multipletests(raw, method="holm")[1]
    finally:
        gc.unfreeze()
    assert [adjusted[k] for k in "ABC"] == pytest.approx(list(reference))
    assert holm({"A": None}) == {"A": None}
    assert len(set(raw)) < raw.size and max(many) == 1.0 < max(raw) * raw.size
    adjusted = holm({f"T{i}": float(v) for i, v in enumerate(raw)})
    assert list(adjusted.values()) == pytest.approx(list(many), abs=1e-12)


def test_pesaran_timmermann_matches_a_hand_computation() -> None:
    forecast_up = np.array([1, 1, 0, 0, 1, 0, 1, 0], dtype=bool)
    actual_up = np.array([1, 1, 0, 0, 0, 1, 1, 0], dtype=bool)
    n, hit, px, py = 8, 6 / 8, 0.5, 0.5
    expected = py * px + (1 - py) * (1 - px)  # 0.5
    var_hit = expected * (1 - expected) / n
    var_expected = 4 * py * px * (1 - py) * (1 - px) / n**2  # the other two terms are 0
    statistic = (hit - expected) / np.sqrt(var_hit - var_expected)

    result = pesaran_timmermann(forecast_up, actual_up)

    assert result.statistic == pytest.approx(statistic)
    assert result.p_value == pytest.approx(stats.norm.sf(statistic))


def test_pesaran_timmermann_is_undefined_for_a_forecast_that_is_always_up() -> None:
    actual_up = np.random.default_rng(3).random(300) < 0.53
    result = pesaran_timmermann(np.ones(300, dtype=bool), actual_up)
    # its hit rate is the base rate: no directional skill can be shown
    assert result.statistic is None and result.p_value is None


def _losses(seed: int = 11, n: int = 600) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    benchmark = np.abs(rng.standard_normal(n))
    models = pd.DataFrame(
        {
            "better": 0.5 * benchmark + 0.05 * np.abs(rng.standard_normal(n)),
            "same": np.abs(rng.standard_normal(n)),
            "worse": benchmark + 0.5,
        }
    )
    return benchmark, models


def test_spa_finds_the_model_that_beats_the_benchmark() -> None:
    benchmark, models = _losses()
    p = superior_predictive_ability(benchmark, models, block_size=10, reps=500, seed=1)
    assert p < 0.01
    no_better = superior_predictive_ability(
        benchmark, models[["same", "worse"]], block_size=10, reps=500, seed=1
    )
    assert no_better > 0.10


def test_spa_p_value_matches_a_hand_computation_on_the_same_bootstrap_draws() -> None:
    """Hansen's consistent p-value with one slightly better model and one far worse: the worse
    one's mean differential is far below the threshold, so it is not re-centred and never the
    largest; p is then the share of stationary-bootstrap means of the better model's loss
    differential (benchmark minus model) that exceed twice its sample mean."""
    rng = np.random.default_rng(7)
    n, block, reps, seed = 200, 10, 400, 3
    benchmark = np.abs(rng.standard_normal(n))
    better = benchmark - 0.02 + 0.3 * rng.standard_normal(n)
    models = pd.DataFrame({"better": better, "worse": benchmark + 5.0})
    p = superior_predictive_ability(benchmark, models, block_size=block, reps=reps, seed=seed)

    d = benchmark - better
    assert d.mean() > 0  # the better model is better on this sample
    draws = StationaryBootstrap(block, d, seed=seed).bootstrap(reps)
    means = np.array([positional[0].mean() for positional, _ in draws])
    expected = float(np.mean(means - d.mean() > d.mean()))
    assert 0.0 < p < 1.0
    assert p == pytest.approx(expected)
    # the same draws with the roles swapped: the benchmark is the better one, nothing beats it
    swapped = superior_predictive_ability(
        better, pd.DataFrame({"benchmark": benchmark}), block_size=block, reps=reps, seed=seed
    )
    assert swapped > p


def test_model_confidence_set_keeps_only_the_clearly_best_model() -> None:
    benchmark, models = _losses()
    losses = models.assign(naive=benchmark)
    assert model_confidence_set(losses, size=0.10, block_size=10, reps=500, seed=1) == ["better"]


def test_avg_rel_mae_is_the_weighted_geometric_mean() -> None:
    assert geometric_mean_ratio([0.5, 2.0, None], [10, 10, 5]) == pytest.approx(1.0)
    assert geometric_mean_ratio([0.9, 1.2], [300, 100]) == pytest.approx(
        np.exp((300 * np.log(0.9) + 100 * np.log(1.2)) / 400)
    )
    assert geometric_mean_ratio([None], [3]) is None


def test_models_identical_to_naive_share_its_verdict() -> None:
    # a network shrunk to naive at every step has naive's losses exactly
    benchmark, models = _losses()
    losses = models.assign(naive=benchmark, lstm=benchmark)
    assert model_confidence_set(losses, size=0.10, block_size=10, reps=300, seed=1) == ["better"]
    tied = pd.DataFrame({"naive": benchmark, "lstm": benchmark, "worse": benchmark + 0.5})
    assert model_confidence_set(tied, size=0.10, block_size=10, reps=300, seed=1) == [
        "lstm",
        "naive",
    ]
    only_naive = pd.DataFrame({"lstm": benchmark})
    assert (
        superior_predictive_ability(benchmark, only_naive, block_size=10, reps=100, seed=1) == 1.0
    )


def test_dm_keeps_the_k_minus_1_window_when_the_automatic_bandwidth_is_undefined():
    # Demeaned autocovariances that sum to zero (one +1 next to one -1) leave the Newey-West
    # bandwidth rule dividing by zero; the test falls back to its k-1 window instead of failing.
    d = np.zeros(60)
    d[10], d[11] = 1.0, -1.0
    result = diebold_mariano(d, horizon=5)
    assert result.lags == 4
    assert result.statistic == pytest.approx(0.0)
    assert result.p_value == pytest.approx(1.0)


def test_pesaran_timmermann_with_unequal_up_shares_matches_a_hand_computation() -> None:
    forecast_up = np.array([1, 1, 1, 0, 1, 0, 1, 1, 0, 1], dtype=bool)  # px = 0.7
    actual_up = np.array([1, 0, 1, 0, 1, 1, 1, 0, 0, 1], dtype=bool)  # py = 0.6
    n, px, py = 10, 0.7, 0.6
    hit = 7 / 10
    expected = py * px + (1 - py) * (1 - px)  # 0.54
    var_hit = expected * (1 - expected) / n
    var_expected = (
        (2 * py - 1) ** 2 * px * (1 - px) / n
        + (2 * px - 1) ** 2 * py * (1 - py) / n
        + 4 * py * px * (1 - py) * (1 - px) / n**2
    )
    statistic = (hit - expected) / np.sqrt(var_hit - var_expected)

    result = pesaran_timmermann(forecast_up, actual_up)

    assert (result.statistic, result.p_value, result.n) == pytest.approx(
        (statistic, stats.norm.sf(statistic), n)
    )
    assert pesaran_timmermann(np.array([], dtype=bool), np.array([], dtype=bool)).as_dict() == {
        "statistic": None,
        "p_value": None,
        "n": 0,
        "lags": None,
    }


def test_dm_is_undefined_on_too_few_or_constant_differentials() -> None:
    four = np.array([0.3, -0.1, 0.4, 0.2])
    assert diebold_mariano(four[:3], 2).statistic is None  # n 3 < 2 * horizon
    assert diebold_mariano(four, 2, lags=1).statistic is not None  # n 4 = 2 * horizon
    assert diebold_mariano(four[:2], 1).p_value is None  # n 2 < 3
    assert diebold_mariano(four[:3], 1, lags=0).p_value is not None  # n 3
    constant = diebold_mariano(np.full(20, 0.5), 1)
    assert (constant.statistic, constant.p_value, constant.n) == (None, None, 20)
    with pytest.raises(ValueError, match="horizon must be >= 1, got 0"):
        diebold_mariano(four, 0)


def test_dm_drops_missing_differentials_and_picks_its_hac_window() -> None:
    rng = np.random.default_rng(5)
    d = rng.standard_normal(200) + 0.1
    with_gaps = np.r_[d, np.nan, np.inf]
    result = diebold_mariano(with_gaps, 3)
    assert result.n == 200 and result.statistic == diebold_mariano(d, 3).statistic
    automatic = int(np.ceil(Bartlett(d[:, None]).bandwidth))
    assert result.lags == max(2, automatic)
    assert diebold_mariano(d, 3, lags=7).lags == 7
    assert result.as_dict() == {
        "statistic": result.statistic,
        "p_value": result.p_value,
        "n": 200,
        "lags": result.lags,
    }
    assert geometric_mean_ratio([0.5, 0.0, None], [4, 10, 10]) == pytest.approx(0.5)
    assert geometric_mean_ratio([0.5], [0]) is None


def test_undefined_results_still_say_how_many_differentials_and_which_window() -> None:
    assert diebold_mariano(np.zeros(100), 1).as_dict() == {
        "statistic": None,
        "p_value": 1.0,
        "n": 100,
        "lags": None,
    }
    assert diebold_mariano(np.zeros(100), 2, lags=3).lags == 3
    assert diebold_mariano(np.full(20, 0.5), 1).as_dict() == {
        "statistic": None,
        "p_value": None,
        "n": 20,
        "lags": None,
    }
    assert diebold_mariano(np.full(20, 0.5), 1, lags=3).lags == 3  # the window asked for
    always_up = pesaran_timmermann(np.ones(30, dtype=bool), np.arange(30) % 2 == 0)
    assert (always_up.statistic, always_up.p_value, always_up.n) == (None, None, 30)
    with pytest.raises(
        ValueError, match=r"^lags 3 < horizon - 1 \(4\): the HAC window is too short$"
    ):
        diebold_mariano(np.arange(20.0), horizon=5, lags=3)
    d = np.zeros(60)
    d[10], d[11] = 1.0, -1.0  # the automatic bandwidth is undefined: no extra lag
    assert diebold_mariano(d, horizon=1).lags == 0


def test_a_confidence_set_of_identical_models_is_all_of_them_by_name() -> None:
    same = np.abs(np.random.default_rng(4).standard_normal(100))
    losses = pd.DataFrame({"b": same, "a": same})
    assert model_confidence_set(losses, size=0.1, block_size=5, reps=50, seed=1) == ["a", "b"]


def test_avg_rel_mae_needs_one_weight_per_ratio() -> None:
    with pytest.raises(ValueError, match=r"zip\(\) argument 2 is shorter than argument 1"):
        geometric_mean_ratio([0.9, 1.1], [10])
