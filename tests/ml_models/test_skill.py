"""The backtest's significance figures on fixed forecasts: a model that sees the future wins
on every ticker, one that always forecasts "up" has positive_share 1 and no testable direction,
and the report carries every key the issue names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.baselines import fit_naive
from stock_lstm.ml_models.common.intervals import Bands
from stock_lstm.ml_models.common.skill import add_skill, panel_losses
from stock_lstm.ml_models.common.walk_forward import ErrorStore, make_folds, run_walk_forward
from tests.ml_models.conftest import random_walk_features

PARAMS = {"window": 10, "max_horizon": 5, "level": 0.9, "vol_window": 5}
STEPS = [1, 5]
TICKERS = ["AAA", "BBB", "CCC"]


class _Fixed:
    """A fit whose forecast is a fixed rule of the period: no fitting."""

    def __init__(self, rule) -> None:
        self.rule = rule

    def __call__(self, visible, cutoffs):
        return self

    def forecast(self, ticker, period) -> Bands:
        close = self.rule(period)
        return Bands(close=close, lower=close * 0.98, upper=close * 1.02)


def _oracle(period) -> np.ndarray:
    """The actual close k steps ahead (inside the period), shrunk 10 % toward the origin."""
    origin = period.closes[period.origins][:, None]
    ahead = np.minimum(period.origins[:, None] + np.arange(1, 6), len(period.closes) - 1)
    return origin + 0.9 * (period.closes[ahead] - origin)


def _always_up(period) -> np.ndarray:
    origin = period.closes[period.origins][:, None]
    return origin * (1 + 0.001 * np.arange(1, 6))


@pytest.fixture(scope="module")
def scored() -> tuple[dict, ErrorStore]:
    features = random_walk_features(dict.fromkeys(TICKERS, 600), sigma=0.01, seed=9)
    folds = make_folds(features, n_folds=2, test_share=0.3, validation_days=50)
    fits = {
        "naive": lambda v, c: fit_naive(v, c, PARAMS),
        "oracle": _Fixed(_oracle),
        "up": _Fixed(_always_up),
    }
    errors: ErrorStore = {}
    report = run_walk_forward(
        features,
        folds,
        fits,
        baselines=["naive"],
        window=10,
        steps=STEPS,
        level=0.9,
        errors=errors,
    )
    add_skill(report, errors, level=0.05, mcs_size=0.10, reps=300, seed=1)
    return report, errors


def test_report_has_every_significance_key(scored) -> None:
    report, _ = scored
    for model in ("naive", "oracle", "up"):
        entry = report["models"][model]
        for ticker in TICKERS:
            assert len(entry["tickers"][ticker]["coverage_by_step"]) == 5
            for k in STEPS:
                cell = entry["tickers"][ticker][f"h{k}"]
                assert {"statistic", "p_value", "p_holm"} <= set(cell["dm"])
                assert {"positive_share", "base_rate", "direction", "mae_ratio"} <= set(cell)
        for k in STEPS:
            summary = entry["summary"][f"h{k}"]
            assert {"avg_rel_mae", "significant_wins", "significant_losses"} <= set(summary)
    for k in STEPS:
        assert {"spa_p_value", "mcs"} <= set(report["significance"][f"h{k}"])


def test_a_model_that_sees_the_future_beats_naive_on_every_ticker(scored) -> None:
    report, _ = scored
    for k in STEPS:
        summary = report["models"]["oracle"]["summary"][f"h{k}"]
        assert summary["significant_wins"] == TICKERS
        assert summary["significant_losses"] == []
        assert summary["avg_rel_mae"] < 0.5
        assert summary["panel_dm"]["statistic"] < 0 and summary["panel_dm"]["p_value"] < 0.01
        assert report["significance"][f"h{k}"]["spa_p_value"] < 0.05
        assert report["significance"][f"h{k}"]["mcs"] == ["oracle"]
        # naive against itself: no difference, never a win
        naive = report["models"]["naive"]["summary"][f"h{k}"]
        assert naive["significant_wins"] == [] and naive["avg_rel_mae"] == pytest.approx(1.0)


def test_always_up_forecasts_show_their_share_next_to_the_base_rate(scored) -> None:
    report, errors = scored
    for ticker in TICKERS:
        cell = report["models"]["up"]["tickers"][ticker]["h5"]
        arrays = errors["up"][ticker][5].arrays()
        assert cell["positive_share"] == 1.0
        assert cell["base_rate"] == pytest.approx(
            float(np.mean(arrays["actual"] > arrays["origin_close"]))
        )
        assert cell["direction"]["hit_rate"] == pytest.approx(cell["base_rate"])
        assert cell["direction"]["pt_p_value"] is None  # no directional skill can be shown
        assert report["models"]["naive"]["tickers"][ticker]["h5"]["positive_share"] == 0.0


def test_avg_rel_mae_is_the_geometric_mean_of_the_pooled_ratios(scored) -> None:
    report, errors = scored
    ratios, weights = [], []
    for ticker in TICKERS:
        up, naive = errors["up"][ticker][5].arrays(), errors["naive"][ticker][5].arrays()
        ratio = np.mean(np.abs(up["actual"] - up["forecast"])) / np.mean(
            np.abs(naive["actual"] - naive["forecast"])
        )
        ratios.append(ratio)
        weights.append(up["actual"].size)
        cell = report["models"]["up"]["tickers"][ticker]["h5"]
        assert cell["mae_ratio_pooled"] == pytest.approx(ratio)
    expected = np.exp(np.average(np.log(ratios), weights=weights))
    assert report["models"]["up"]["summary"]["h5"]["avg_rel_mae"] == pytest.approx(expected)


def test_panel_losses_average_each_tickers_scaled_error_per_date(scored) -> None:
    _, errors = scored
    panel = panel_losses(errors, ["naive"], TICKERS, 1)
    # naive's scaled errors average 1 per ticker; the panel averages them per date
    assert isinstance(panel, pd.DataFrame) and list(panel.columns) == ["naive"]
    assert panel.index.is_monotonic_increasing and panel.index.is_unique
    assert panel["naive"].mean() == pytest.approx(1.0, rel=0.05)


def test_significance_needs_naive() -> None:
    with pytest.raises(InputError, match="naive baseline"):
        add_skill(
            {"models": {"up": {}}, "report_steps": [1]},
            {},
            level=0.05,
            mcs_size=0.1,
            reps=10,
            seed=1,
        )
