"""The walk-forward harness: fold boundaries, no leak per fold, baselines and scores by hand,
the leaderboard's ranking."""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common import walk_forward
from stock_lstm.ml_models.common.baselines import (
    drift_forecast,
    drift_rate,
    fit_drift,
    fit_garch,
    fit_naive,
    naive_forecast,
)
from stock_lstm.ml_models.common.distributed import RunStats, TaskFailed
from stock_lstm.ml_models.common.intervals import Bands, conformal_quantile
from stock_lstm.ml_models.common.metrics import winkler_score
from stock_lstm.ml_models.common.origins import split_origins
from stock_lstm.ml_models.common.scaling import fit_scaler, scaler_stats
from stock_lstm.ml_models.common.series import log_returns, recent_volatility
from stock_lstm.ml_models.common.splits import SplitDates
from stock_lstm.ml_models.common.walk_forward import (
    Fold,
    fold_periods,
    leaderboard,
    leaderboard_table,
    make_folds,
    results_only,
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
    with pytest.raises(
        InputError, match=r"^backtest: the naive baseline is required \(every ratio is to it\)$"
    ):
        run_walk_forward(
            features,
            folds,
            {"drift": fits["drift"]},
            baselines=["drift"],
            window=10,
            steps=[1],
            level=0.9,
        )


# --- scoring by hand: straight-line closes and models whose errors are constants -------------
#
# AAA closes 100, 101, ... and BBB 200, 202, ... (slope 1 and 2 a day) over 40 business days;
# two folds test rows 20-29 and 30-39. A `Line` model forecasts origin + a * slope * k + d:
# its step-k error is (1 - a) * slope * k - d whatever the origin, so every score is worked out
# by hand. Window 3: fold origins are rows 20..28 and 30..38 (9 at step 1, 7 at step 3).

LINE_DAYS = pd.bdate_range("2001-01-01", periods=40)


def line_features(**start: int) -> pd.DataFrame:
    """AAA and BBB as above; `start` drops a ticker's rows before that row."""
    frames = []
    for ticker, slope in (("AAA", 1.0), ("BBB", 2.0)):
        closes = 100.0 * slope + slope * np.arange(40)
        frame = pd.DataFrame({"ticker": ticker, "date": LINE_DAYS, "close": closes})
        frames.append(frame.iloc[start.get(ticker, 0) :])
    return pd.concat(frames, ignore_index=True)


class Line:
    """A fit whose model forecasts origin + a * slope * k + d (d by fold: `offsets[i]` for the
    i-th fit), bands +- 1, for steps 1..3."""

    def __init__(self, a: float, offsets: Sequence[float] = (0.0,)) -> None:
        self.a, self.offsets, self.fitted, self.threads = a, list(offsets), [], []

    def __call__(self, visible: pd.DataFrame, cutoffs: SplitDates) -> Line:
        self.fitted.append(cutoffs.test_start)
        self.threads.append({pool["num_threads"] for pool in threadpool_info()})
        d = self.offsets[len(self.fitted) - 1]
        return SimpleNamespace(forecast=lambda ticker, period: self.bands(period, d))

    def bands(self, period, d: float) -> Bands:
        last = period.histories[:, -1:]
        slope = period.histories[:, -1:] - period.histories[:, -2:-1]
        close = last + self.a * slope * np.arange(1, 4) + d
        return Bands(close=close, lower=close - 1.0, upper=close + 1.0)


def line_folds() -> list:
    return [Fold.on_calendar(n, LINE_DAYS.to_numpy(), s, s + 9, 5) for n, s in ((1, 20), (2, 30))]


@pytest.fixture
def line_report(monkeypatch) -> tuple[dict, dict, dict]:
    ticks = iter(range(1000))  # each clock reading 1.0046 s after the last
    clock = SimpleNamespace(perf_counter=lambda: next(ticks) * 1.0046)
    monkeypatch.setattr(walk_forward, "time", clock)
    fits = {
        "naive": Line(0.0, [0.0, 0.0]),
        "lag": Line(0.5),  # refitted every 2 folds: one fit serves both
        "trend": Line(1.0, [0.5, 2.0]),
        "trend@7": Line(1.0, [0.25, 1.0]),
    }
    errors: dict = {}
    report = run_walk_forward(
        line_features(),
        line_folds(),
        fits,
        baselines=["naive", "lag"],
        window=3,
        steps=[1, 3],
        level=0.8,
        refit_every={"default": 1, "lag": 2},
        variants={"trend@7": ("trend", 7)},
        errors=errors,
    )
    return report, fits, errors


def test_the_report_scores_each_fold_by_hand(line_report) -> None:
    report, _, _ = line_report
    trend = report["models"]["trend"]["tickers"]["BBB"]["h3"]
    # error -d: 0.5 in fold 1, 2.0 in fold 2; naive's MAE 2 * 3 = 6, lag's (the best) 3
    assert trend["n"] == [7, 7]
    assert trend["mae"] == {
        "mean": 1.25,
        "std": pytest.approx(1.5 / math.sqrt(2)),
        "folds": [0.5, 2.0],
    }
    assert trend["rmse"]["folds"] == [0.5, 2.0]
    closes = 200.0 + 2.0 * np.arange(40)
    mape = [
        np.mean(d / closes[rows + 3]) * 100
        for d, rows in ((0.5, np.arange(20, 27)), (2.0, np.arange(30, 37)))
    ]
    assert trend["mape"]["folds"] == pytest.approx(mape, rel=1e-12)
    assert trend["directional_accuracy"]["folds"] == [1.0, 1.0]
    assert trend["mae_ratio"]["folds"] == pytest.approx([0.5 / 6, 2.0 / 6])
    assert trend["mae_ratio_best_baseline"]["folds"] == pytest.approx([0.5 / 3, 2.0 / 3])
    # inside the +-1 band in fold 1; 1 below it in fold 2: Winkler 2 + (2 / 0.2) * 1
    assert trend["interval"] == {
        "coverage": {"mean": 0.5, "std": pytest.approx(math.sqrt(0.5)), "folds": [1.0, 0.0]},
        "mean_width": {"mean": 2.0, "std": 0.0, "folds": [2.0, 2.0]},
        "winkler": {
            "mean": pytest.approx(7.0),
            "std": pytest.approx(10 / math.sqrt(2)),
            "folds": pytest.approx([2.0, 12.0]),
        },
    }
    naive = report["models"]["naive"]["tickers"]["AAA"]["h1"]
    assert naive["mae"]["folds"] == [1.0, 1.0] and naive["mae_ratio"]["folds"] == [1.0, 1.0]
    assert naive["mae_ratio_best_baseline"]["folds"] == [2.0, 2.0]  # lag's MAE is 0.5
    assert naive["directional_accuracy"]["folds"] == [0.0, 0.0]  # a forecast of no change
    assert naive["interval"]["coverage"]["folds"] == [1.0, 1.0]  # on the upper bound: inside
    lag = report["models"]["lag"]["tickers"]["AAA"]["h3"]
    assert lag["mae_ratio"] == {"mean": 0.5, "std": 0.0, "folds": [0.5, 0.5]}
    # every step's coverage over both folds: naive misses AAA from step 2 (error k > 1)
    tickers = {m: report["models"][m]["tickers"] for m in ("naive", "lag", "trend")}
    assert tickers["naive"]["AAA"]["coverage_by_step"] == [1.0, 0.0, 0.0]
    assert tickers["naive"]["BBB"]["coverage_by_step"] == [0.0, 0.0, 0.0]
    assert tickers["lag"]["AAA"]["coverage_by_step"] == [1.0, 1.0, 0.0]
    assert tickers["trend"]["AAA"]["coverage_by_step"] == [0.5, 0.5, 0.5]


def test_the_report_says_how_it_was_run_and_ranks_the_models(line_report) -> None:
    report, fits, _ = line_report
    assert {k: report[k] for k in ("interval_level", "report_steps", "window", "min_history")} == {
        "interval_level": 0.8,
        "report_steps": [1, 3],
        "window": 3,
        "min_history": 0,
    }
    assert report["baselines"] == ["naive", "lag"]
    assert report["refit_every"] == {"naive": 1, "lag": 2, "trend": 1, "trend@7": 1}
    folds = line_folds()
    assert fits["lag"].fitted == [folds[0].test_start]
    assert fits["trend"].fitted == [folds[0].test_start, folds[1].test_start]
    assert fits["trend"].threads == [{1}, {1}]  # BLAS on one thread, as on a Dask worker
    assert [{k: v for k, v in f.items() if k != "seconds"} for f in report["folds"]] == [
        {
            **folds[0].as_dict(),
            "refit": True,
            "refitted": ["naive", "lag", "trend", "trend@7"],
            "tickers": ["AAA", "BBB"],
        },
        {
            **folds[1].as_dict(),
            "refit": True,
            "refitted": ["naive", "trend", "trend@7"],
            "tickers": ["AAA", "BBB"],
        },
    ]
    # the fake clock: every fit and every fold's forecasts take 1.0046 s, scoring a fold too:
    # fold 1 is 4 fits + 4 forecasts + scoring, fold 2 one fit fewer (lag's is reused)
    assert report["fold_seconds"] == [9.04, 8.04] == [f["seconds"] for f in report["folds"]]
    models = report["models"]
    assert list(models) == ["naive", "lag", "trend"]  # the seed variant is not a model
    assert [
        (models[m]["fits"], models[m]["fit_seconds"], models[m]["seconds_per_fit"]) for m in models
    ] == [
        (2, 2.01, 1.005),
        (1, 1.0, 1.005),
        (2, 2.01, 1.005),
    ]
    assert models["trend"]["seed_spread"]["AAA"]["h1"] == {
        "mae_ratio_by_seed": [1.25, 0.625],
        "range": 0.625,
        "std": pytest.approx(0.625 / math.sqrt(2)),
    }
    assert "seed_spread" not in models["naive"]
    ranked = report["leaderboard"]["AAA"]["h1"]
    assert [(r["rank"], r["model"]) for r in ranked] == [(1, "lag"), (2, "naive"), (3, "trend")]
    assert ranked[2] == {
        "rank": 3,
        "model": "trend",
        "mae_ratio": {"mean": 1.25, "std": pytest.approx(1.5 / math.sqrt(2))},
        "mae_ratio_best_baseline": 2.5,
        "coverage": 0.5,
        "winkler": pytest.approx(7.0),
    }
    kept = results_only({**report, "run": {"host": "x"}})
    assert "fold_seconds" not in kept and "run" not in kept
    assert all("seconds" not in f for f in kept["folds"])
    assert set(kept["models"]["lag"]) == {"tickers", "fits"}
    assert kept["leaderboard"] == report["leaderboard"] and report["fold_seconds"] == [9.04, 8.04]


def test_the_errors_store_every_folds_dated_forecasts(line_report) -> None:
    _, _, errors = line_report
    assert set(errors) == {"naive", "lag", "trend", "trend@7"} and set(errors["trend"]["AAA"]) == {
        1,
        3,
    }
    found = errors["trend"]["BBB"][3].arrays()
    rows = np.r_[20:27, 30:37]
    closes = 200.0 + 2.0 * np.arange(40)
    offsets = np.r_[[0.5] * 7, [2.0] * 7]
    np.testing.assert_array_equal(found["origin_dates"], LINE_DAYS.to_numpy()[rows])
    np.testing.assert_array_equal(found["origin_close"], closes[rows])
    np.testing.assert_array_equal(found["actual"], closes[rows + 3])
    np.testing.assert_array_equal(found["forecast"], closes[rows + 3] + offsets)
    np.testing.assert_array_equal(found["lower"], closes[rows + 3] + offsets - 1.0)
    np.testing.assert_array_equal(found["upper"], closes[rows + 3] + offsets + 1.0)
    assert {
        k: v.size for k, v in walk_forward.StepErrors.empty().arrays().items()
    } == dict.fromkeys(["origin_dates", "origin_close", "actual", "forecast", "lower", "upper"], 0)


def test_a_ticker_without_enough_history_joins_a_later_fold() -> None:
    # BBB starts at row 10: 10 rows before fold 1 (row 20), 20 before fold 2 (row 30)
    report = run_walk_forward(
        line_features(BBB=10),
        line_folds(),
        {
            "naive": Line(0.0, [0.0, 0.0]),
            "trend": Line(1.0, [0.5, 2.0]),
            "low": Line(1.0, [1.0, 1.0]),  # every actual exactly on its lower bound
        },
        baselines=["naive"],
        window=3,
        steps=[1],
        level=0.8,
        min_history=20,
    )
    assert report["models"]["low"]["tickers"]["AAA"]["coverage_by_step"] == [1.0, 1.0, 1.0]
    assert [f["tickers"] for f in report["folds"]] == [["AAA"], ["AAA", "BBB"]]
    bbb = report["models"]["trend"]["tickers"]["BBB"]
    assert bbb["h1"]["n"] == [0, 9]
    assert bbb["h1"]["mae"] == {"mean": 2.0, "std": None, "folds": [None, 2.0]}
    assert bbb["h1"]["mae_ratio"] == {"mean": 1.0, "std": None, "folds": [None, 1.0]}
    assert bbb["coverage_by_step"] == [0.0, 0.0, 0.0]  # fold 2 only


def test_a_ticker_never_tested_has_no_scores_and_no_seed_spread() -> None:
    # BBB has 20 rows before fold 2, one short of min_history: never tested
    late = run_walk_forward(
        line_features(BBB=10),
        line_folds(),
        {"naive": Line(0.0, [0.0, 0.0]), "naive@2": Line(0.0, [0.0, 0.0])},
        baselines=["naive"],
        window=3,
        steps=[1],
        level=0.8,
        min_history=21,
        variants={"naive@2": ("naive", 2)},
    )
    never = late["models"]["naive"]["tickers"]["BBB"]
    assert never["coverage_by_step"] == [] and never["h1"]["mae"]["mean"] is None
    assert late["leaderboard"]["BBB"]["h1"][0]["mae_ratio"] == {"mean": None, "std": None}
    seeds = late["models"]["naive"]["seed_spread"]
    assert seeds["BBB"]["h1"] == {"mae_ratio_by_seed": [None, None], "range": None, "std": None}
    assert seeds["AAA"]["h1"] == {"mae_ratio_by_seed": [1.0, 1.0], "range": 0.0, "std": 0.0}


def test_a_backtest_names_what_it_is_missing() -> None:
    features, folds = line_features(), line_folds()
    run = lambda fits, **options: run_walk_forward(  # noqa: E731
        features, folds, fits, window=3, steps=[1], level=0.8, **options
    )
    with pytest.raises(InputError, match=r"^backtest: baseline\(s\) lag, drift have no fit$"):
        run({"naive": Line(0.0)}, baselines=["naive", "lag", "drift"])
    with pytest.raises(
        InputError, match=r"^backtest: refit_every must be >= 1, got \{'naive': 0\}$"
    ):
        run({"naive": Line(0.0)}, baselines=["naive"], refit_every=0)
    with pytest.raises(InputError, match=r"got \{'lag': 0\}$"):
        run({"naive": Line(0.0), "lag": Line(0.5)}, baselines=["naive"], refit_every={"lag": 0})


def test_a_variant_seed_is_refitted_like_its_model() -> None:
    fits = dict.fromkeys(["naive", "lstm", "lstm@43", "gru"])
    assert walk_forward._refit_schedule({"lstm": 3, "default": 2}, fits) == {
        "naive": 2,
        "lstm": 3,
        "lstm@43": 3,
        "gru": 2,
    }
    assert walk_forward._refit_schedule({"gru": 2}, fits) == {
        "naive": 1,
        "lstm": 1,
        "lstm@43": 1,
        "gru": 2,
    }
    assert walk_forward._refit_schedule(4, fits) == dict.fromkeys(fits, 4)


def test_the_leaderboard_table_is_one_row_per_ticker_step_and_model(line_report) -> None:
    report, _, _ = line_report
    table = leaderboard_table(report)
    assert len(table) == 2 * 2 * 3  # tickers x steps x models
    row = table[(table["ticker"] == "BBB") & (table["step"] == 3)].iloc[2].to_dict()
    assert row == {
        "ticker": "BBB",
        "step": 3,
        "rank": 3,
        "model": "naive",
        "mae_ratio_mean": 1.0,
        "mae_ratio_std": 0.0,
        "mae_ratio_best_baseline": 2.0,
        "coverage": 0.0,
        "winkler": pytest.approx(2.0 + 10 * 5.0),  # error 6, band +-1: 5 above
    }


def test_spread_is_the_mean_and_sample_std_of_the_folds_with_a_score() -> None:
    assert walk_forward.spread([1.0, None, 3.0]) == {
        "mean": 2.0,
        "std": pytest.approx(math.sqrt(2)),
        "folds": [1.0, None, 3.0],
    }
    assert walk_forward.spread([2.5, None]) == {"mean": 2.5, "std": None, "folds": [2.5, None]}
    assert walk_forward.spread([None]) == {"mean": None, "std": None, "folds": [None]}


# --- folds: the common calendar's last share, calendar years, and what they may see ----------


def test_share_folds_tile_the_tickers_common_calendar() -> None:
    features = pd.concat(
        [
            line_features(BBB=10).query("ticker == 'AAA'"),
            line_features(BBB=10).query("ticker == 'BBB' and date <= @LINE_DAYS[35]"),
        ]
    )
    # the common calendar is rows 10..35 (26 days): its last half, 13 rows from row 23
    folds = make_folds(features, n_folds=2, test_share=0.5, validation_days=4)
    assert [(f.number, f.test_start, f.test_end) for f in folds] == [
        (1, LINE_DAYS[23], LINE_DAYS[29]),
        (2, LINE_DAYS[30], LINE_DAYS[35]),
    ]
    assert folds[1].cutoffs() == SplitDates(
        validation_start=LINE_DAYS[26],
        test_start=LINE_DAYS[30],
        common_start=LINE_DAYS[10],
        common_end=LINE_DAYS[29],
    )
    assert folds == walk_forward.backtest_folds(
        features, {"folds": "2", "test_share": "0.5", "validation_days": "4"}
    )


@pytest.mark.parametrize(
    ("folds", "share", "days"), [(0, 0.5, 4), (2, 0.0, 4), (2, 1.0, 4), (2, 0.5, 0)]
)
def test_share_folds_refuse_impossible_parameters_by_name(folds, share, days) -> None:
    with pytest.raises(InputError) as refused:
        make_folds(line_features(), n_folds=folds, test_share=share, validation_days=days)
    assert str(refused.value) == (
        "backtest: need folds >= 1, 0 < test_share < 1, validation_days >= 1; got "
        f"folds={folds}, test_share={share}, validation_days={days}"
    )


def test_folds_of_a_frame_without_rows_or_room_are_refused() -> None:
    empty = line_features().iloc[0:0]
    for make in (
        lambda f: make_folds(f, 2, 0.5, 4),
        lambda f: walk_forward.make_yearly_folds(f, 2001, 4),
    ):
        with pytest.raises(InputError, match="^backtest: the features frame has no rows$"):
            make(empty)
    with pytest.raises(InputError) as refused:
        make_folds(line_features(), n_folds=21, test_share=0.5, validation_days=4)
    assert str(refused.value) == (
        "backtest: the tickers' common calendar (40 trading days, AAA, BBB) is too short for "
        "21 folds over its last 50% with a 4-day validation tail and a training period"
    )
    make_folds(line_features(), n_folds=20, test_share=0.5, validation_days=19)  # just fits
    with pytest.raises(InputError, match="too short for 20 folds"):
        make_folds(line_features(), n_folds=20, test_share=0.5, validation_days=20)


YEARS = pd.bdate_range("2001-12-03", "2003-03-31")


def yearly_features() -> pd.DataFrame:
    """AAA Dec 2001 to Mar 2003; BBB ends in June 2002."""
    aaa = pd.DataFrame({"ticker": "AAA", "date": YEARS, "close": 100.0})
    bbb = aaa[aaa["date"] <= "2002-06-28"].assign(ticker="BBB")
    return pd.concat([bbb, aaa], ignore_index=True)


def test_yearly_folds_test_each_calendar_year_on_the_union_calendar() -> None:
    folds = walk_forward.make_yearly_folds(yearly_features(), 2002, validation_days=5)
    first_2002 = YEARS.get_loc(pd.Timestamp("2002-01-01"))
    first_2003 = YEARS.get_loc(pd.Timestamp("2003-01-01"))
    assert [f.number for f in folds] == [1, 2]
    assert folds[0] == Fold(
        number=1,
        validation_start=YEARS[first_2002 - 5],
        origin=YEARS[first_2002 - 1],
        test_start=pd.Timestamp("2002-01-01"),
        test_end=pd.Timestamp("2002-12-31"),
        common_start=YEARS[0],
    )
    assert (folds[1].test_start, folds[1].test_end) == (YEARS[first_2003], YEARS[-1])
    params = {"scheme": "yearly", "first_test_year": "2003", "validation_days": "5"}
    assert walk_forward.backtest_folds(yearly_features(), params) == [
        Fold.on_calendar(1, YEARS.to_numpy(), first_2003, len(YEARS) - 1, 5)
    ]
    with pytest.raises(InputError, match=r"^backtest.scheme 'weekly': use one of yearly, share$"):
        walk_forward.backtest_folds(yearly_features(), {"scheme": "weekly"})


@pytest.mark.parametrize(("year", "days"), [(2004, 5), (2001, 5), (2002, 21), (2002, 0)])
def test_yearly_folds_need_a_test_year_and_room_before_it(year: int, days: int) -> None:
    with pytest.raises(InputError) as refused:
        walk_forward.make_yearly_folds(yearly_features(), year, validation_days=days)
    if days < 1:
        assert str(refused.value) == "backtest: validation_days must be >= 1, got 0"
    else:
        assert str(refused.value) == (
            "backtest: the tickers' calendar (2001-12-03 to 2003-03-31, AAA, BBB) has no test "
            f"year from {year} on with a {days}-day validation tail and a training period "
            "before it"
        )
    walk_forward.make_yearly_folds(yearly_features(), 2002, validation_days=20)  # just fits


def test_validation_scores_read_the_tail_before_the_test_period_only() -> None:
    features = line_features()
    features.attrs = {"version_id": 7}
    fold = line_folds()[0]  # validation rows 15..19, test rows 20..29
    visible = walk_forward.visible_rows(features, fold)
    assert visible["date"].max() == fold.origin and visible.attrs == {"version_id": 7}
    periods = walk_forward.validation_periods(features, fold, window=3)
    assert [(t, list(p.origins), p.end) for t, p in periods.items()] == [
        ("AAA", [15, 16, 17, 18], 20),
        ("BBB", [15, 16, 17, 18], 20),
    ]
    trend = Line(1.0, [0.5, 0.5, 0.5])
    # error 0.5 against naive's slope * k: AAA 1 and 2, BBB 2 and 4; step 5 has no target
    assert walk_forward.mae_ratios(periods, trend(visible, fold.cutoffs()), [1, 2, 5]) == [
        0.5,
        0.25,
        0.25,
        0.125,
    ]
    model = trend(visible, fold.cutoffs())
    assert walk_forward.validation_mae_ratio(features, fold, model, 3, [1, 2]) == 0.28125
    by_ticker = SimpleNamespace(forecast=lambda t, p: trend.bands(p, {"AAA": 0.5, "BBB": 1.0}[t]))
    assert walk_forward.mae_ratios(periods, by_ticker, [1]) == [0.5, 0.5]  # each its own
    # the test rows changed: the same figure (read from the validation tail only)
    later = features.assign(
        close=np.where(features["date"] >= fold.test_start, 1.0, features["close"])
    )
    assert walk_forward.validation_mae_ratio(later, fold, model, 3, [1, 2]) == 0.28125
    with pytest.raises(InputError) as refused:
        walk_forward.validation_mae_ratio(features, fold, model, 3, [5, 6])
    assert str(refused.value) == (
        "tuning: fold 1's validation tail has no origin with a target at steps [5, 6]"
    )


def test_a_flat_or_gappy_validation_tail_is_left_out_or_shows() -> None:
    flat = line_features().assign(close=lambda f: np.where(f["ticker"] == "BBB", 50.0, f["close"]))
    fold = line_folds()[0]
    periods = walk_forward.validation_periods(flat, fold, window=3)
    model = Line(1.0, [0.5])(flat, fold.cutoffs())
    assert walk_forward.mae_ratios(periods, model, [1]) == [0.5]  # BBB's naive MAE is 0
    gappy = line_features()
    gappy.loc[(gappy["ticker"] == "AAA") & (gappy["date"] == LINE_DAYS[17]), "close"] = np.nan
    periods = walk_forward.validation_periods(gappy, fold, window=3)
    ratios = walk_forward.mae_ratios(periods, Line(0.0, [0.0])(gappy, fold.cutoffs()), [1])
    assert math.isnan(ratios[0]) and ratios[1] == 1.0


def test_coverage_by_step_pools_every_folds_hits() -> None:
    # step 1: 9 of 9 then 0 of 6; step 2: 8 of 8 then 1 of 5; step 3: no target
    folds = [np.array([[9, 9], [8, 8], [0, 0]]), np.array([[0, 6], [1, 5], [0, 0]])]
    assert walk_forward._coverage_by_step(folds) == [0.6, 0.6923, None]
    assert walk_forward._coverage_by_step([]) == []


def test_a_failed_fit_is_named_and_the_run_says_where_it_ran() -> None:
    class Failing(Line):
        def __call__(self, visible, cutoffs):
            if self.fitted:
                raise RuntimeError("out of memory")
            return super().__call__(visible, cutoffs)

    with pytest.raises(TaskFailed) as failed:
        run_walk_forward(
            line_features(),
            line_folds(),
            {"naive": Line(0.0, [0.0, 0.0]), "trend": Failing(1.0, [0.5, 2.0])},
            baselines=["naive"],
            window=3,
            steps=[1],
            level=0.8,
        )
    assert str(failed.value) == "fit 'fold 2 trend' failed: RuntimeError: out of memory"
    stats = RunStats()
    run_walk_forward(
        line_features(),
        line_folds(),
        {"naive": Line(0.0, [0.0, 0.0])},
        baselines=["naive"],
        window=3,
        steps=[1],
        level=0.8,
        stats=stats,
    )
    assert (stats.workers, stats.cluster, list(stats.peak_rss_mib)) == (
        1,
        "in-process",
        ["in-process"],
    )


def test_edges_one_fold_a_step_past_the_folds_and_models_without_scores() -> None:
    [fold] = make_folds(line_features(), n_folds=1, test_share=0.5, validation_days=1)
    assert (fold.validation_start, fold.origin, fold.test_start) == tuple(LINE_DAYS[[19, 19, 20]])
    report = run_walk_forward(
        line_features(),
        line_folds(),
        {"naive": Line(0.0, [0.0, 0.0])},
        baselines=["naive"],
        window=3,
        steps=[12],  # no origin of a 10-day fold has a target 12 days on
        level=0.8,
    )
    beyond = report["models"]["naive"]["tickers"]["AAA"]["h12"]
    assert beyond["n"] == [0, 0] and beyond["mae"]["folds"] == [None, None]
    unscored = {"mae_ratio": {"mean": None, "std": None}, "winkler": None}
    assert walk_forward._rank_key(unscored) == (np.inf, np.inf)
    models = {m: {"tickers": {"T": {"h1": _entry(None, None, None)}}} for m in ("b", "a")}
    assert [r["model"] for r in leaderboard(models, ["T"], [1])["T"]["h1"]] == ["b", "a"]


def test_more_edges_a_one_day_last_year_a_seed_of_its_own_and_per_ticker_forecasts() -> None:
    short = yearly_features().query("date <= '2003-01-01'")  # 2003 has one trading day
    folds = walk_forward.make_yearly_folds(short, 2002, validation_days=1)
    assert [(f.test_start, f.test_end) for f in folds] == [
        (pd.Timestamp("2002-01-01"), pd.Timestamp("2002-12-31")),
        (pd.Timestamp("2003-01-01"), pd.Timestamp("2003-01-01")),
    ]
    assert folds[0].validation_start == folds[0].origin == pd.Timestamp("2001-12-31")
    fits = dict.fromkeys(["lstm", "lstm@43"])
    assert walk_forward._refit_schedule({"lstm": 3, "lstm@43": 5}, fits) == {
        "lstm": 3,
        "lstm@43": 5,
    }
    offsets = {"AAA": 0.5, "BBB": 2.0}
    per_ticker = Line(1.0)
    fit = lambda visible, cutoffs: SimpleNamespace(  # noqa: E731
        forecast=lambda ticker, period: per_ticker.bands(period, offsets[ticker])
    )
    report = run_walk_forward(
        line_features(),
        line_folds(),
        {"naive": fit},
        baselines=["naive"],
        window=3,
        steps=[1],
        level=0.8,
    )
    by_ticker = report["models"]["naive"]["tickers"]
    assert [by_ticker[t]["h1"]["mae"]["folds"] for t in ("AAA", "BBB")] == [[0.5, 0.5], [2.0, 2.0]]
