"""Significance of forecast comparisons: Diebold–Mariano (HAC, Harvey–Leybourne–Newbold),
Holm's correction, Pesaran–Timmermann, and the bootstrap SPA test and model confidence set.

Pure functions over arrays: the backtest's scoring feeds them the concatenated test errors.
Overlapping k-step targets make a k-step loss differential autocorrelated up to lag k-1 at
least (and volatility clustering adds more), so every variance here is a long-run (HAC) one:
a plain variance would call noise a win.

SciPy and arch are imported when a test is computed: the pipelines that name the
backtest's and training's nodes import this module, and every `kedro` command registers them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stock_lstm.common.lazy import lazy_module

if TYPE_CHECKING:
    from scipy import stats
else:
    stats = lazy_module("scipy.stats")


@dataclass(frozen=True)
class TestResult:
    """A test statistic and its p-value (None where the test is undefined), with what it used."""

    statistic: float | None
    p_value: float | None
    n: int
    lags: int | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "statistic": self.statistic,
            "p_value": self.p_value,
            "n": self.n,
            "lags": self.lags,
        }


def long_run_variance(x: np.ndarray, lags: int) -> float:
    """The Bartlett-kernel (Newey–West) long-run variance of `x` with `lags` lags
    (weights 1 - j/(lags+1)): never negative, unlike the rectangular window."""
    from arch.covariance.kernel import Bartlett

    return float(
        Bartlett(np.asarray(x, dtype="float64")[:, None], bandwidth=lags).cov.long_run[0, 0]
    )


def hac_lags(x: np.ndarray, horizon: int) -> int:
    """At least horizon-1 (k-step targets overlap by k-1 days), more when the Newey–West
    automatic bandwidth asks for more. The automatic rule divides by a sum of autocovariances
    that can be exactly zero (a sparse differential); the k-1 window then stands alone."""
    from arch.covariance.kernel import Bartlett

    try:
        automatic = int(np.ceil(Bartlett(np.asarray(x, dtype="float64")[:, None]).bandwidth))
    except ZeroDivisionError:
        automatic = 0
    return max(horizon - 1, automatic)


def hln_factor(n: int, horizon: int) -> float:
    """Harvey–Leybourne–Newbold (1997) small-sample factor for the DM statistic:
    sqrt((n + 1 - 2h + h(h-1)/n) / n)."""
    return float(np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n))


DM_ALTERNATIVES = ("two-sided", "less")


def diebold_mariano(
    loss_differential: np.ndarray,
    horizon: int,
    lags: int | None = None,
    alternative: str = "two-sided",
) -> TestResult:
    """Diebold–Mariano test of "equal expected loss" on d = loss_model - loss_other.

    The mean of d over its HAC standard error (Bartlett kernel, `lags` >= horizon-1; None:
    the larger of horizon-1 and the automatic bandwidth), times the HLN factor, against
    Student's t with n-1 degrees of freedom. Negative statistic: the model's loss is lower.
    `alternative`: "two-sided" (the backtest's), or "less" (one-sided: the model's expected
    loss is lower; the training's skill gate). Identical losses: p = 1 either way.
    """
    if alternative not in DM_ALTERNATIVES:
        raise ValueError(f"alternative must be one of {DM_ALTERNATIVES}, got {alternative!r}")
    d = np.asarray(loss_differential, dtype="float64")
    d = d[np.isfinite(d)]
    n = int(d.size)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if lags is not None and lags < horizon - 1:
        raise ValueError(f"lags {lags} < horizon - 1 ({horizon - 1}): the HAC window is too short")
    if not np.any(d):  # the two forecasts have the same losses: no difference at all
        return TestResult(None, 1.0, n, lags)
    if n < max(3, 2 * horizon) or np.ptp(d) == 0:  # too short, or no variance to scale by
        return TestResult(None, None, n, lags)
    if lags is None:
        lags = hac_lags(d, horizon)
    variance = long_run_variance(d, lags) / n
    if variance <= 0:
        return TestResult(None, None, n, lags)
    statistic = d.mean() / np.sqrt(variance) * hln_factor(n, horizon)
    if alternative == "less":
        p_value = stats.t.cdf(statistic, df=n - 1)
    else:
        p_value = 2.0 * stats.t.sf(abs(statistic), df=n - 1)
    return TestResult(float(statistic), float(p_value), n, lags)


def holm(p_values: Mapping[str, float | None]) -> dict[str, float | None]:
    """Holm's step-down adjusted p-values across the keys (family-wise error); keys whose
    p-value is None stay None and are not counted in the family. The formula of statsmodels'
    multipletests(method="holm") (tests/ml_models/test_significance.py compares them), computed
    here because that function runs gc.collect() on every call: 0.3-1 s in a process holding
    TensorFlow, 16 calls per backtest report."""
    tested = {key: p for key, p in p_values.items() if p is not None}
    out: dict[str, float | None] = dict.fromkeys(p_values)
    if tested:
        p = np.asarray(list(tested.values()), dtype=float)
        order = np.argsort(p)
        # sorted p-values times m, m-1, ..., 1, then the running maximum, capped at 1
        stepped = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
        adjusted = np.empty_like(p)
        adjusted[order] = np.minimum(stepped, 1.0)
        out.update({key: float(q) for key, q in zip(tested, adjusted, strict=True)})
    return out


def pesaran_timmermann(forecast_up: np.ndarray, actual_up: np.ndarray) -> TestResult:
    """Pesaran–Timmermann (1992) test of directional skill: is the hit rate above what
    independent forecasts with the same share of "up" would reach (P* = py·px + (1-py)(1-px))?
    One-sided p-value. Undefined (None) when the forecast or the actual never changes direction
    (a forecast that is always "up" cannot show directional skill, whatever its hit rate)."""
    x = np.asarray(forecast_up, dtype=bool)
    y = np.asarray(actual_up, dtype=bool)
    n = int(x.size)
    if n == 0:
        return TestResult(None, None, 0)
    hit = float(np.mean(x == y))
    px, py = float(x.mean()), float(y.mean())
    expected = py * px + (1 - py) * (1 - px)
    var_hit = expected * (1 - expected) / n
    var_expected = (
        (2 * py - 1) ** 2 * px * (1 - px) / n
        + (2 * px - 1) ** 2 * py * (1 - py) / n
        + 4 * py * px * (1 - py) * (1 - px) / n**2
    )
    variance = var_hit - var_expected
    if variance <= 0 or px in (0.0, 1.0) or py in (0.0, 1.0):
        return TestResult(None, None, n)
    statistic = (hit - expected) / np.sqrt(variance)
    return TestResult(float(statistic), float(stats.norm.sf(statistic)), n)


def superior_predictive_ability(
    benchmark: np.ndarray,
    models: pd.DataFrame,
    *,
    block_size: int,
    reps: int,
    seed: int,
) -> float:
    """Hansen's SPA test (arch.bootstrap.SPA): the consistent p-value of "no model has a lower
    expected loss than the benchmark". Small: at least one model beats it."""
    from arch.bootstrap import SPA

    benchmark = np.asarray(benchmark, dtype="float64")
    differs = [name for name in models if not np.array_equal(models[name], benchmark)]
    if not differs:  # every model IS the benchmark (a network shrunk to naive): none beats it
        return 1.0
    test = SPA(
        benchmark,
        models[differs].to_numpy(dtype="float64"),
        block_size=block_size,
        reps=reps,
        seed=seed,
    )
    test.compute()
    return float(test.pvalues["consistent"])


def model_confidence_set(
    losses: pd.DataFrame, *, size: float, block_size: int, reps: int, seed: int
) -> list[str]:
    """Hansen–Lunde–Nason model confidence set (arch.bootstrap.MCS, range statistic): the
    models (columns) not eliminated at level `size`, i.e. those the data cannot tell apart
    from the best. Models with identical losses (a network shrunk to naive is naive) are tested
    once and share the verdict: arch's elimination cannot rank two equal columns."""
    from arch.bootstrap import MCS

    groups: dict[str, list[str]] = {}
    for name in losses.columns:
        twin = next((g for g in groups if np.array_equal(losses[g], losses[name])), None)
        groups.setdefault(twin or name, []).append(name)
    if len(groups) == 1:
        return sorted(str(name) for name in losses.columns)
    test = MCS(
        losses[list(groups)], size=size, reps=reps, block_size=block_size, method="R", seed=seed
    )
    test.compute()
    return sorted(str(name) for kept in test.included for name in groups[kept])


def geometric_mean_ratio(ratios: Sequence[float | None], weights: Sequence[int]) -> float | None:
    """AvgRelMAE (Davydenko & Fildes): the weighted geometric mean of per-series MAE ratios,
    weights = each series' number of forecasts; None when no series has a ratio."""
    pairs = [(r, w) for r, w in zip(ratios, weights, strict=True) if r is not None and r > 0]
    if not pairs or sum(w for _, w in pairs) == 0:
        return None
    r, w = np.array(pairs, dtype="float64").T
    return float(np.exp(np.sum(w * np.log(r)) / np.sum(w)))
