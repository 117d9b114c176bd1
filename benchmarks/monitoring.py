"""Monitoring: one day of the loop over a year of forecasts (the library, then its storage).

A year (2008, a turbulent one) of the bundled snapshot's 3 tickers: 750 logged API forecasts of
30 steps at random origins, and a shadow forecast of 30 steps per ticker per trading day.
Forecasts come from a stand-in (mean recent log return carried forward): the model's own cost
is the serving section's. Timed: `monitor_day` as of 2008-12-31 (score every forecast, rolling
accuracy, drift, decision), then saving that run on a temporary SQLite file, and saving it again
(a rerun of the day: nothing new to store).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from benchmarks.common import Options

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "data" / "01_raw" / "snapshot"
STEPS = 30
LOGGED = 750
YEAR = ("2008-01-01", "2008-12-31")


def _features() -> pd.DataFrame:
    from stock_lstm.ml_models.common.series import add_log_returns

    frames = []
    for entry in json.loads((SNAPSHOT / "manifest.json").read_text()):
        raw = pd.read_csv(SNAPSHOT / entry["file"])
        raw = raw[raw["Date"] <= YEAR[1]]
        frames.append(
            pd.DataFrame({"ticker": entry["ticker"], "date": raw["Date"], "close": raw["Close"]})
        )
    return add_log_returns(pd.concat(frames, ignore_index=True))


def _stand_in(ticker: str, history: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    returns = np.diff(np.log(history[-21:]))
    steps = np.arange(1, STEPS + 1)
    close = history[-1] * np.exp(returns.mean() * steps)
    spread = np.exp(1.645 * returns.std() * np.sqrt(steps))
    return close, close / spread, close * spread


def _logged(features: pd.DataFrame, days: np.ndarray) -> pd.DataFrame:
    from stock_lstm.monitoring.shadow import shadow_forecasts

    rng = np.random.default_rng(0)
    tickers = sorted(features["ticker"].unique())
    frames = []
    for number in range(LOGGED):
        ticker, day = tickers[rng.integers(len(tickers))], days[rng.integers(len(days))]
        history = features[(features["ticker"] == ticker) & (features["date"] <= day)]
        rows = shadow_forecasts(_stand_in, history, "bench", 21)
        frames.append(rows.assign(source="api", forecast_id=str(number)))
    return pd.concat(frames, ignore_index=True)


def run(options: Options) -> dict[str, Any]:
    from stock_lstm.data_pipeline import crud
    from stock_lstm.data_pipeline.database import dispose_engines, get_database
    from stock_lstm.monitoring.daily import Champion, monitor_day
    from stock_lstm.monitoring.shadow import shadow_forecasts

    params = yaml.safe_load((ROOT / "conf" / "base" / "parameters_monitoring.yml").read_text())
    features = _features()
    days = np.sort(features.loc[features["date"] >= YEAR[0], "date"].unique())
    logged = _logged(features, days)
    started = time.perf_counter()
    shadow = shadow_forecasts(
        _stand_in, features, "bench", 21, origins=list(pd.DatetimeIndex(days).date)
    )
    shadow_s = time.perf_counter() - started
    champion = Champion(
        model_version="bench",
        forecast=_stand_in,
        min_history=21,
        reference_end=dt.date(2007, 1, 1),
        trained_through=dt.date(2007, 12, 31),
        reference_start=dt.date(2004, 9, 1),
    )
    started = time.perf_counter()
    day = monitor_day(champion, features, logged, shadow, params["monitoring"])
    monitor_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        database = get_database(f"sqlite:///{Path(folder) / 'bench.db'}")
        database.migrate()  # outside the timed region
        saves = []
        for _ in range(2):
            started = time.perf_counter()
            with database.session() as session:
                saved = crud.save_monitoring_run(
                    session,
                    as_of=day.as_of,
                    model_version="bench",
                    shadow=shadow,
                    scores=day.scored.steps,
                    drift=day.drift,
                    decisions=[day.decision],
                    parameters=params["monitoring"],
                    forecast_counts=day.scored.status_counts(),
                )
            saves.append((time.perf_counter() - started, saved))
        dispose_engines()
    (first_s, first), (rerun_s, rerun) = saves
    assert rerun.scores_added == 0 and rerun.shadow_added == 0
    return {
        "logged_forecasts": LOGGED,
        "shadow_forecasts": int(shadow["forecast_id"].nunique()),
        "steps_per_forecast": STEPS,
        "scored_steps": int(len(day.scored.steps)),
        "accuracy_rows": int(len(day.accuracy)),
        "shadow_stand_in_year_s": round(shadow_s, 3),
        "monitor_day_s": round(monitor_s, 3),
        "sqlite_save_first_s": round(first_s, 3),
        "sqlite_save_rerun_s": round(rerun_s, 3),
        "scores_stored": first.scores_added,
        "retrain": day.decision["retrain"],
    }
