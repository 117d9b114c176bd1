"""The walk-forward harness: fold boundaries, no leak per fold, baselines and scores by hand,
the leaderboard's ranking."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.baselines import (
    drift_forecast,
    drift_rate,
    fit_drift,
    fit_garch,
    fit_naive,
    naive_forecast,
)
from stock_lstm.ml_models.common.intervals import Bands, conformal_quantile
from stock_lstm.ml_models.common.metrics import winkler_score
from stock_lstm.ml_models.common.origins import split_origins
from stock_lstm.ml_models.common.scaling import fit_scaler, scaler_stats
from stock_lstm.ml_models.common.series import log_returns, recent_volatility
from stock_lstm.ml_models.common.splits import SplitDates
from stock_lstm.ml_models.common.walk_forward import (
    fold_periods,
    leaderboard,
    leaderboard_table,
    make_folds,
    run_walk_forward,
)
from tests.ml_models.conftest import random_walk_features

PARAMS = {"window": 10, "max_horizon": 5, "level": 0.9, "vol_window": 5}


@pytest.fixture
def features() -> pd.DataFrame:
    return random_walk_features({"AAA": 600, "BBB": 600}, sigma=0.01, seed=5)


def test_folds_tile_the_last_share_of_the_calendar_in_order(features: pd.DataFrame) -> None:
    folds = make_folds(features, n_folds=3, test_share=0.3, validation_days=50)
    dates = pd.bdate_range("2001-01-01", periods=600)
    # 180 test days (round(600 * 0.3)) from row 420, in 3 slices of 60
    assert [f.test_start for f in folds] == [dates[420], dates[480], dates[540]]
    assert [f.test_end for f in folds] == [dates[479], dates[539], dates[599]]
    assert [f.origin for f in folds] == [dates[419], dates[479], dates[539]]
    assert [f.validation_start for f in folds] == [dates[370], dates[430], dates[490]]
    assert [f.number for f in folds] == [1, 2, 3]
    assert folds[0].as_dict() == {
        "fold": 1,
        "origin": f"{dates[419]:%Y-%m-%d}",
        "test_start": f"{dates[420]:%Y-%m-%d}",
        "test_end": f"{dates[479]:%Y-%m-%d}",
        "validation_start": f"{dates[370]:%Y-%m-%d}",
    }
    with pytest.raises(InputError, match="too short for 3 folds"):
        make_folds(features, n_folds=3, test_share=0.3, validation_days=500)


class _Recording:
    """A fit that records what it was given and forecasts naive with unit bands."""

    def __init__(self) -> None:
        self.seen: list[tuple[pd.DataFrame, SplitDates]] = []

    def __call__(self, visible: pd.DataFrame, cutoffs: SplitDates):
        self.seen.append((visible, cutoffs))
        return self

    def forecast(self, ticker, period) -> Bands:
        close = naive_forecast(period.histories, 5)
        return Bands(close=close, lower=close - 1.0, upper=close + 1.0)


def test_no_row_of_a_folds_test_period_reaches_its_fit(features: pd.DataFrame) -> None:
    folds = make_folds(features, n_folds=3, test_share=0.3, validation_days=50)
    recording = _Recording()
    run_walk_forward(
        features,
        folds,
        {"naive": recording},
        baselines=["naive"],
        window=10,
        steps=[1, 5],
        level=0.9,
    )
    assert len(recording.seen) == 3
    for fold, (visible, cutoffs) in zip(folds, recording.seen, strict=True):
        assert visible["date"].max() == fold.origin < fold.test_start
        assert cutoffs.validation_start == fold.validation_start
        # The scaler a network gets in this fold: statistics of the fold's TRAINING rows alone.
        scaler = fit_scaler(visible, cutoffs)
        train = features[features["date"] < fold.validation_start]["log_return"].dropna()
        expected = StandardScaler().fit(train.to_numpy().reshape(-1, 1))
        assert scaler_stats(scaler) == pytest.approx(scaler_stats(expected), rel=1e-12)


def test_refit_every_n_folds_reuses_the_earlier_fit(features: pd.DataFrame) -> None:
    folds = make_folds(features, n_folds=3, test_share=0.3, validation_days=50)
    recording = _Recording()
    report = run_walk_forward(
        features,
        folds,
        {"naive": recording},
        baselines=["naive"],
        window=10,
        steps=[1],
        level=0.9,
        refit_every=2,
    )
    assert [cutoffs.test_start for _, cutoffs in recording.seen] == [
        folds[0].test_start,
        folds[2].test_start,
    ]
    assert [f["refit"] for f in report["folds"]] == [True, False, True]


def test_naive_and_drift_baselines_match_hand_computation(features: pd.DataFrame) -> None:
    cutoffs = make_folds(features, 2, 0.3, 50)[0].cutoffs()
    visible = features[features["date"] < cutoffs.test_start]
    returns = visible[visible["date"] < cutoffs.validation_start]["log_return"].dropna()
    mu = drift_rate(visible, cutoffs)
    assert mu == pytest.approx(returns.mean(), rel=1e-12)
    history = np.array([[90.0, 100.0], [50.0, 40.0]])
    np.testing.assert_allclose(
        drift_forecast(history, 2, 0.01),
        [[100 * math.exp(0.01), 100 * math.exp(0.02)], [40 * math.exp(0.01), 40 * math.exp(0.02)]],
    )
    # naive bands: conformal quantile of validation |log(actual/close)| / recent volatility
    naive = fit_naive(visible, cutoffs, PARAMS)
    scores = {}
    for ticker, period in split_origins(visible, cutoffs, "validation", 10).items():
        valid, origin, actual = period.step(1)
        sigma = recent_volatility(log_returns(period.histories), 5)[valid]
        scores[ticker] = np.abs(np.log(actual / origin)) / sigma
    pooled = conformal_quantile(np.concatenate(list(scores.values())), 0.9)
    assert naive.quantiles.pooled[0] == pytest.approx(pooled)
    assert dict(naive.quantiles.by_ticker) == {}
    # scope "ticker": each ticker's own validation scores
    own = fit_naive(visible, cutoffs, {**PARAMS, "scope": "ticker"}).quantiles
    for ticker, found in scores.items():
        assert own.of(ticker)[0] == pytest.approx(conformal_quantile(found, 0.9))
    # drift per series, on every row before the test period (train and validation)
    drift = fit_drift(visible, cutoffs, PARAMS)
    own_mu = visible.loc[visible["ticker"] == "AAA", "log_return"].dropna().mean()
    period = fold_periods(features, make_folds(features, 2, 0.3, 50)[0], 10)["AAA"]
    bands = drift.forecast("AAA", period)
    np.testing.assert_allclose(bands.close, drift_forecast(period.histories, 5, own_mu))
    assert own_mu != pytest.approx(mu, rel=1e-3)  # not the pooled training drift
    sigma = recent_volatility(log_returns(period.histories), 5)
    np.testing.assert_allclose(
        bands.upper[:, 2], bands.close[:, 2] * np.exp(drift.quantiles.pooled[2] * sigma)
    )


def test_garch_baseline_forecasts_from_past_data_only(features: pd.DataFrame) -> None:
    fold = make_folds(features, 2, 0.3, 50)[0]
    visible = features[features["date"] < fold.test_start]
    garch = fit_garch(visible, fold.cutoffs(), PARAMS)
    period = fold_periods(features, fold, 10)["AAA"]
    bands = garch.forecast("AAA", period)
    assert bands.close.shape == (period.origins.size, 5)
    assert (bands.lower < bands.close).all() and (bands.close < bands.upper).all()
    # wider for later steps (variance adds up)
    assert (np.diff(np.log(bands.upper / bands.close), axis=1) > 0).all()
    # Changing the closes AFTER an origin leaves that origin's forecast unchanged.
    later = features.copy()
    aaa = later["ticker"] == "AAA"
    cut = period.dates[period.origins[10]]
    later.loc[aaa & (later["date"] > cut), "close"] *= 1.5
    changed = garch.forecast("AAA", fold_periods(later, fold, 10)["AAA"])
    np.testing.assert_allclose(changed.upper[:11], bands.upper[:11], rtol=1e-10)
    assert not np.allclose(changed.upper[11:], bands.upper[11:])


def test_winkler_score_matches_hand_computation() -> None:
    actual = np.array([10.0, 12.0, 7.0])
    lower, upper = np.array([9.0, 9.0, 9.0]), np.array([11.0, 11.0, 11.0])
    # alpha = 0.1: width 2 each; misses by 0, 1 above, 2 below -> penalties 0, 20, 40
    assert winkler_score(actual, lower, upper, 0.9) == pytest.approx((2 + 22 + 42) / 3)
    with pytest.raises(ValueError, match="level"):
        winkler_score(actual, lower, upper, 1.5)


def _entry(ratio: float | None, std: float | None, winkler: float) -> dict:
    return {
        "mae_ratio": {"mean": ratio, "std": std},
        "mae_ratio_best_baseline": {"mean": None},
        "interval": {"coverage": {"mean": 0.9}, "winkler": {"mean": winkler}},
    }


def test_leaderboard_ranks_by_ratio_then_winkler() -> None:
    models = {
        name: {"tickers": {"T": {"h1": _entry(*figures)}}}
        for name, figures in {
            "naive": (1.0, 0.0, 5.0),
            "lstm": (0.98, 0.01, 6.0),
            "gru": (0.98, 0.02, 4.0),
            "flat": (None, None, 1.0),
            "drift": (1.01, 0.0, 1.0),
        }.items()
    }
    ranked = leaderboard(models, ["T"], [1])["T"]["h1"]
    assert [(r["rank"], r["model"]) for r in ranked] == [
        (1, "gru"),
        (2, "lstm"),
        (3, "naive"),
        (4, "drift"),
        (5, "flat"),
    ]
    assert ranked[1]["mae_ratio"] == {"mean": 0.98, "std": 0.01} and ranked[0]["winkler"] == 4.0
    table = leaderboard_table({"leaderboard": {"T": {"h1": ranked}}})
    assert list(table["model"]) == ["gru", "lstm", "naive", "drift", "flat"]
    assert list(table["rank"]) == [1, 2, 3, 4, 5] and set(table["step"]) == {1}


def test_walk_forward_report_aggregates_per_fold_scores(features: pd.DataFrame) -> None:
    folds = make_folds(features, n_folds=2, test_share=0.3, validation_days=50)
    fits = {
        "naive": lambda v, c: fit_naive(v, c, PARAMS),
        "drift": lambda v, c: fit_drift(v, c, PARAMS),
    }
    report = run_walk_forward(
        features, folds, fits, baselines=["naive", "drift"], window=10, steps=[1, 5], level=0.9
    )
    naive = report["models"]["naive"]["tickers"]["AAA"]["h5"]
    drift = report["models"]["drift"]["tickers"]["AAA"]["h5"]
    assert naive["mae_ratio"]["folds"] == [1.0, 1.0] and naive["mae_ratio"]["std"] == 0.0
    # by hand, fold 2: MAE of the naive step-5 forecast over the fold's origins
    closes = features.loc[features["ticker"] == "AAA", "close"].to_numpy()
    origins = np.arange(510, 600 - 5)  # test rows 510..599; full window; targets inside
    expected = np.mean(np.abs(closes[origins + 5] - closes[origins]))
    assert naive["mae"]["folds"][1] == pytest.approx(expected, rel=1e-12)
    assert naive["n"] == [85, 85]
    ratios = [d / n for d, n in zip(drift["mae"]["folds"], naive["mae"]["folds"], strict=True)]
    assert drift["mae_ratio"]["folds"] == pytest.approx(ratios)
    assert drift["mae_ratio"]["mean"] == pytest.approx(np.mean(ratios))
    assert drift["mae_ratio"]["std"] == pytest.approx(np.std(ratios, ddof=1))
    best = [min(ratios[i], 1.0) for i in range(2)]
    assert drift["mae_ratio_best_baseline"]["folds"] == pytest.approx(
        [r / b for r, b in zip(ratios, best, strict=True)]
    )
    for model in ("naive", "drift"):
        cover = report["models"][model]["tickers"]["BBB"]["h1"]["interval"]["coverage"]["mean"]
        assert 0.75 <= cover <= 1.0
    assert [f["fold"] for f in report["folds"]] == [1, 2]
    assert set(report["leaderboard"]) == {"AAA", "BBB"}
    with pytest.raises(InputError, match="naive baseline is required"):
        run_walk_forward(
            features,
            folds,
            {"drift": fits["drift"]},
            baselines=["drift"],
            window=10,
            steps=[1],
            level=0.9,
        )
