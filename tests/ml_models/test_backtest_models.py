"""The backtest's yearly folds on per-ticker calendars, its newer baselines (median drift, ETS,
LightGBM) by hand and against their libraries, seeds and refit schedules, and no leak: no
model's forecast from an origin reads a close after it, and no fit reads a row of its fold's
test period (tests/helpers/poison.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_lstm.common.errors import InputError
from stock_lstm.ml_models.common.baselines import fit_median_drift, median_log_changes
from stock_lstm.ml_models.common.classical import ets_forecasts, fit_ets, fit_ets_parameters
from stock_lstm.ml_models.common.gradient_boosting import fit_lightgbm
from stock_lstm.ml_models.common.intervals import Bands
from stock_lstm.ml_models.common.walk_forward import (
    backtest_folds,
    fold_periods,
    make_yearly_folds,
    run_walk_forward,
    visible_rows,
)
from stock_lstm.ml_models.model_types import MODEL_TYPES
from stock_lstm.pipelines.backtest.nodes import model_fits, seed_variants
from tests.helpers.poison import poisoned
from tests.ml_models.conftest import random_walk_features

PARAMS = {"window": 10, "max_horizon": 5, "level": 0.9, "vol_window": 5}
KNOBS = {"lags": 5, "n_estimators": 10, "min_child_samples": 20}
TRAINING = {
    "model": {"window": 10, "max_horizon": 5},
    "intervals": {"level": 0.9, "vol_window": 5},
    "fit": {"seed": 1},
}


@pytest.fixture
def staggered() -> pd.DataFrame:
    """AAA: 2001-01-01 to 2006-09 (1500 business days); BBB ends in 2003 (700 days), CCC
    starts in 2002 (drawn apart and shifted): three calendars, none the other's."""
    base = random_walk_features({"AAA": 1500, "BBB": 700}, sigma=0.01, seed=3)
    late = random_walk_features({"CCC": 1100}, sigma=0.01, seed=4)
    late["date"] = late["date"] + pd.offsets.BDay(400)
    return pd.concat([base, late], ignore_index=True)


def test_yearly_folds_run_to_the_last_stored_year_and_no_ticker_is_cut(staggered) -> None:
    folds = make_yearly_folds(staggered, first_test_year=2003, validation_days=100)
    assert [f.test_start.year for f in folds] == [2003, 2004, 2005, 2006]
    assert folds[-1].test_end == staggered["date"].max()  # not BBB's end in 2003
    for fold in folds:
        assert fold.origin < fold.test_start and fold.test_end.year == fold.test_start.year
        assert fold.validation_start < fold.origin
    bbb_end = staggered.loc[staggered["ticker"] == "BBB", "date"].max()
    periods = [fold_periods(staggered, fold, 10) for fold in folds]
    # BBB is tested on its own dates up to its own last day, then no more
    assert periods[0]["BBB"].dates[periods[0]["BBB"].end - 1] == bbb_end
    assert all("BBB" not in p for p in periods[1:])
    assert all("AAA" in p and "CCC" in p for p in periods)
    with pytest.raises(InputError, match="no test year from 2030"):
        make_yearly_folds(staggered, first_test_year=2030, validation_days=100)
    later = backtest_folds(
        staggered, {"scheme": "yearly", "first_test_year": 2004, "validation_days": 100}
    )
    assert [f.test_start for f in later] == [f.test_start for f in folds[1:]]
    with pytest.raises(InputError, match="backtest.scheme 'weekly'"):
        backtest_folds(staggered, {"scheme": "weekly"})


class _Recording:
    def __init__(self) -> None:
        self.seen: list[pd.DataFrame] = []

    def __call__(self, visible, cutoffs):
        self.seen.append(visible)
        return self

    def forecast(self, ticker, period) -> Bands:
        close = np.repeat(period.histories[:, -1:], 5, axis=1)
        return Bands(close=close, lower=close * 0.995, upper=close * 1.005)


def test_each_ticker_is_tested_on_its_own_calendar_and_fits_see_only_the_past(staggered):
    folds = make_yearly_folds(staggered, first_test_year=2003, validation_days=100)
    recording, errors = _Recording(), {}
    report = run_walk_forward(
        staggered,
        folds,
        {"naive": recording, "naive@2": _Recording()},
        baselines=["naive"],
        window=10,
        steps=[1, 5],
        level=0.9,
        refit_every={"default": 1, "naive": 2},
        min_history=500,
        variants={"naive@2": ("naive", 2)},
        errors=errors,
    )
    assert len(recording.seen) == 2  # refit every 2 folds; its seed variant follows it
    for fold, visible in zip(folds[::2], recording.seen, strict=True):
        assert visible["date"].max() < fold.test_start
    # CCC has 500 days of history only from mid-2004 on: it joins in 2005; BBB leaves after 2003
    assert [f["tickers"] for f in report["folds"]] == [
        ["AAA", "BBB"],
        ["AAA"],
        ["AAA", "CCC"],
        ["AAA", "CCC"],
    ]
    assert set(report["models"]) == {"naive"}  # the seed variant is a spread, not a model
    assert report["models"]["naive"]["seed_spread"]["AAA"]["h1"]["mae_ratio_by_seed"] == [1, 1]
    assert report["models"]["naive"]["tickers"]["CCC"]["h1"]["n"][0] == 0
    coverage = report["models"]["naive"]["tickers"]["AAA"]["coverage_by_step"]
    assert len(coverage) == 5
    for k in (1, 5):  # the share of every fold's test targets inside the band, by hand
        step = errors["naive"]["AAA"][k].arrays()
        inside = (step["lower"] <= step["actual"]) & (step["actual"] <= step["upper"])
        assert 0 < inside.mean() < 1  # bands of +-0.5 %: some closes fall outside
        assert coverage[k - 1] == pytest.approx(inside.mean(), abs=5e-5)
    aaa = errors["naive"]["AAA"][5].arrays()
    assert np.all(np.diff(aaa["origin_dates"]) > np.timedelta64(0))  # folds in date order
    assert aaa["origin_dates"].min() >= folds[0].test_start.to_datetime64()
    np.testing.assert_allclose(aaa["forecast"], aaa["origin_close"])


def test_median_drift_is_the_median_k_step_log_change_per_series(staggered) -> None:
    closes = np.array([100.0, 110.0, 99.0, 120.0, 130.0])
    np.testing.assert_allclose(
        median_log_changes(closes, 2),
        [np.median(np.diff(np.log(closes))), np.median(np.log(closes[2:] / closes[:-2]))],
    )
    fold = make_yearly_folds(staggered, 2004, 100)[0]
    visible = visible_rows(staggered, fold)
    model = fit_median_drift(visible, fold.cutoffs(), PARAMS)
    period = fold_periods(staggered, fold, 10)["AAA"]
    own = visible.loc[visible["ticker"] == "AAA", "close"].to_numpy()
    expected = period.histories[:, -1:] * np.exp(median_log_changes(own, 5))
    np.testing.assert_allclose(model.forecast("AAA", period).close, expected)


def test_ets_forecasts_are_statsmodels_own_from_each_origin(staggered) -> None:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    logs = np.log(staggered.loc[staggered["ticker"] == "AAA", "close"].to_numpy())
    parameters = fit_ets_parameters(logs[:800])
    origins = np.array([850, 900, 1000])
    mine = ets_forecasts(logs, parameters, origins, 5)
    for row, origin in zip(mine, origins, strict=True):
        model = ETSModel(logs[: origin + 1], error="add", trend="add", damped_trend=True)
        np.testing.assert_allclose(row, model.smooth(parameters).forecast(5), rtol=1e-10)


NO_LEAK_FITS = {
    "drift": lambda v, c: MODEL_TYPES["drift"].fold_fit("drift", TRAINING)(v, c),
    "median_drift": lambda v, c: fit_median_drift(v, c, PARAMS),
    "garch": lambda v, c: MODEL_TYPES["garch"].fold_fit("garch", TRAINING)(v, c),
    "ets": lambda v, c: fit_ets(v, c, PARAMS),
    "lightgbm": lambda v, c: fit_lightgbm(v, c, PARAMS, KNOBS),
}


@pytest.mark.parametrize("name", list(NO_LEAK_FITS))
def test_no_model_reads_the_future(staggered, name) -> None:
    """Fitted on the rows before the fold, a model gives the same model whatever follows (every
    number from the test period on poisoned); and the forecast from an origin is unchanged when
    every close after that origin changes, on each ticker's own calendar."""
    fold = make_yearly_folds(staggered, 2004, 100)[0]
    clean = NO_LEAK_FITS[name](visible_rows(staggered, fold), fold.cutoffs())
    blind = NO_LEAK_FITS[name](
        visible_rows(poisoned(staggered, fold.test_start), fold), fold.cutoffs()
    )
    for ticker in ("AAA", "CCC"):
        period = fold_periods(staggered, fold, 10)[ticker]
        cut = pd.Timestamp(period.dates[period.origins[20]])
        moved = staggered.copy()
        after = (moved["ticker"] == ticker) & (moved["date"] > cut)
        moved.loc[after, "close"] *= np.linspace(1.5, 0.5, int(after.sum()))
        later = fold_periods(moved, fold, 10)[ticker]
        reference = clean.forecast(ticker, period)
        np.testing.assert_allclose(blind.forecast(ticker, period).close, reference.close)
        seen = clean.forecast(ticker, later)
        for field in ("close", "lower", "upper"):
            np.testing.assert_allclose(
                getattr(seen, field)[:21], getattr(reference, field)[:21], rtol=1e-10
            )
    # the negative control: a close up to an origin does reach its forecast
    period = fold_periods(staggered, fold, 10)["AAA"]
    early = pd.Timestamp(period.dates[period.origins[0]])
    touched = staggered.copy()
    touched.loc[(touched["ticker"] == "AAA") & (touched["date"] == early), "close"] *= 1.5
    changed = clean.forecast("AAA", fold_periods(touched, fold, 10)["AAA"])
    assert not np.allclose(changed.close[:1], clean.forecast("AAA", period).close[:1])


def test_networks_are_fitted_once_per_seed_and_baselines_read_their_knobs() -> None:
    training = {**TRAINING, "split": {}}
    fits = model_fits(
        ["lstm", "naive", "lightgbm"], training, seeds=[5, 6, 9], knobs={"lightgbm": KNOBS}
    )
    assert list(fits) == ["lstm", "lstm@6", "lstm@9", "naive", "lightgbm"]
    assert fits["lstm@6"].args[1]["fit"]["seed"] == 6 and fits["lstm"].args[1]["fit"]["seed"] == 5
    assert fits["lightgbm"].keywords["knobs"] == KNOBS
    assert seed_variants(fits) == {"lstm@6": ("lstm", 6), "lstm@9": ("lstm", 9)}


def test_the_backtest_takes_the_universes_stored_tickers_and_the_users_own() -> None:
    from stock_lstm.pipelines.backtest.nodes import backtest_tickers

    stored = pd.DataFrame({"ticker": ["^GSPC", "AAPL", "MSFT", "OWN"]})
    snapshot = {"universe": "snapshot", "csv_dir": "data/01_raw/snapshot"}
    assert backtest_tickers(stored, snapshot) == ["MSFT", "OWN", "^GSPC"]
    assert backtest_tickers(stored, {**snapshot, "universe": "sp500_20"}) == [
        "AAPL",
        "MSFT",
        "OWN",
    ]
    assert backtest_tickers(stored, {**snapshot, "universe": "all"}) == sorted(stored["ticker"])
    with pytest.raises(InputError, match="make backtest UNIVERSE=sp500_20"):
        backtest_tickers(pd.DataFrame({"ticker": ["^GSPC"]}), {**snapshot, "universe": "sp500_20"})
