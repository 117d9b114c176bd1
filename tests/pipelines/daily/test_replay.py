"""The daily loop replayed on the real snapshot: a tiny model trained through 2008-09-30, then
`ingestion.end` stepped one trading day at a time into autumn 2008, the daily pipeline run in
process each day and forecasts asked of the API by ticker on some days. On SQLite and
PostgreSQL, both from the one champion of the session (tests/pipelines/daily/conftest.py): a copy
of its project, and of its database's rows into a PostgreSQL database of its own.

The days before the last run the `daily` pipeline (data stages + monitoring); the last day runs
`stock_lstm.cli.daily.run_daily`, the whole loop, whose stored decision (drift) makes it retrain
and register a candidate under `if_better` (retraining on every drifted day would only repeat
that, at the cost of a training each day). The SQLite replay then goes on for a few days: a
retrain is not repeated for the same reason during the cooldown.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from prometheus_client.parser import text_string_to_metric_families

from stock_lstm.api.app import create_app
from stock_lstm.cli.daily import DailyOutcome, run_daily
from stock_lstm.data_pipeline.database import dispose_engines
from stock_lstm.monitoring.policy import trigger_of
from tests.api.conftest import settings_for
from tests.conftest import (
    TrainedProject,
    _postgres_database,
    copy_trained_project,
    mlflow_store,
)
from tests.helpers.daily_replay import TRAINED_THROUGH, copy_rows, replay_params
from tests.helpers.database import crud_on

REPLAY_DAYS = 5  # the long-horizon logic: tests/monitoring/test_replay.py, at library level
TRAFFIC_EVERY = 3  # the API is asked for MSFT on every third replayed day only
HORIZON = 5  # conf/test's max_horizon
WINDOW = 20  # parameters_monitoring.yml report.window
# the replay's last day (a retrain), then the two days after it: each waits on that retrain
# (a third and fourth day only repeated the second's reasons word for word; the whole
# cooldown_days, 20 trading days: tests/monitoring/test_cooldown_replay.py)
COOLDOWN_DAYS = 3


def _trading_days(root: Path) -> list[str]:
    """MSFT's trading days of the snapshot after TRAINED_THROUGH."""
    dates = pd.read_csv(root / "data" / "01_raw" / "snapshot" / "MSFT.csv", usecols=["Date"])
    return sorted(d for d in dates["Date"] if d > TRAINED_THROUGH)


@dataclass
class Replay:
    root: Path
    url: str
    days: list[str]
    served: dict[str, int]  # origin day -> predictions log id of the MSFT forecast
    monitoring: dict  # GET /api/v1/monitoring at the end
    monitoring_msft: dict  # ...?ticker=MSFT
    metrics: str  # GET /metrics at the end
    empty_before: dict  # GET /api/v1/monitoring before the first monitoring run
    champion_before: str
    outcome: DailyOutcome


def _set_project(patch: pytest.MonkeyPatch, root: Path, database_url: str) -> None:
    patch.setenv("DATABASE_URL", database_url)
    patch.setenv("MLFLOW_TRACKING_URI", mlflow_store(root))
    patch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
    patch.setenv("KEDRO_ENV", "test")
    patch.chdir(root)
    bootstrap_project(root)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def replay(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    champion_2008: TrainedProject,
) -> Iterator[Replay]:
    """The replay on a private copy of the session's champion: its SQLite file, or its rows
    copied into a PostgreSQL database of its own."""
    trained = copy_trained_project(
        champion_2008, tmp_path_factory.mktemp(f"replay-{request.param}") / "project"
    )
    root = trained.root
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            database_url = trained.database_url
        else:
            template = request.getfixturevalue("migrated_postgres_template")
            database_url = stack.enter_context(_postgres_database(template=template))
            copy_rows(trained.database_url, database_url)
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        _set_project(patch, root, database_url)
        champion = crud_on().champion_version()
        days = _trading_days(root)[:REPLAY_DAYS]
        served: dict[str, int] = {}
        app = create_app(settings_for(root, database_url))
        with TestClient(app) as client:
            empty_before = client.get("/api/v1/monitoring").json()
            for number, day in enumerate(days[:-1]):
                with KedroSession.create(
                    project_path=root, env="test", runtime_params=replay_params(day)
                ) as session:
                    session.run(pipeline_name="daily")
                if number % TRAFFIC_EVERY == 0:
                    response = client.post("/api/v1/predict", json={"ticker": "MSFT", "horizon": 5})
                    assert response.status_code == 200, response.text
                    assert response.json()["last_date"] == day
                    assert app.state.prediction_log.flush()
                    served[day] = int(crud_on().load_logged_forecasts()["id"].iloc[-1])
            outcome = run_daily(root, "test", replay_params(days[-1]))
            monitoring = client.get("/api/v1/monitoring").json()
            monitoring_msft = client.get("/api/v1/monitoring", params={"ticker": "MSFT"}).json()
            metrics = client.get("/metrics").text
        dispose_engines()
        yield Replay(
            root=root,
            url=database_url,
            days=days,
            served=served,
            monitoring=monitoring,
            monitoring_msft=monitoring_msft,
            metrics=metrics,
            empty_before=empty_before,
            champion_before=champion,
            outcome=outcome,
        )
        dispose_engines()


def test_the_daily_loop_replayed_into_autumn_2008(replay: Replay) -> None:
    days = replay.days
    # Before any monitoring run the endpoint answers 200 with empty figures.
    assert replay.empty_before["model_version"] is None
    assert replay.empty_before["tickers"] == {} and replay.empty_before["message"]

    # A shadow forecast of the champion from every replayed day, for every ticker, traffic
    # or not.
    shadow = crud_on(replay.url).load_shadow_forecasts(replay.champion_before)
    origins = shadow.groupby("ticker")["origin_date"].apply(
        lambda d: sorted({f"{x:%Y-%m-%d}" for x in d})
    )
    assert set(origins.index) == {"^GSPC", "GOOG", "MSFT"}
    for ticker in origins.index:
        assert origins[ticker] == days, ticker
    quiet = [d for d in days if d not in replay.served]
    assert quiet and set(quiet) <= set(origins["MSFT"])

    # Forecasts served on day d are scored step by step once their targets exist.
    clean = crud_on(replay.url).load_stage_frame("clean", tickers=["MSFT"])
    calendar = [f"{d:%Y-%m-%d}" for d in clean["date"]]
    closes = dict(zip(calendar, clean["close"], strict=True))
    scores = crud_on(replay.url).load_realized_scores(replay.champion_before)
    api = scores[scores["source"] == "api"]
    logged = crud_on(replay.url).load_logged_forecasts().set_index("id")
    for day, forecast_id in replay.served.items():
        steps = api[api["forecast_id"] == str(forecast_id)].sort_values("step")
        position = calendar.index(day)
        expected = min(HORIZON, len(calendar) - 1 - position)
        assert list(steps["step"]) == list(range(1, expected + 1)), day
        forecast = {v["step"]: v["close"] for v in logged.loc[forecast_id, "values"]}
        for row in steps.itertuples():
            target = calendar[position + row.step]
            assert f"{row.target_date:%Y-%m-%d}" == target
            assert row.actual == pytest.approx(closes[target])
            assert row.forecast == pytest.approx(forecast[row.step])
            assert row.naive_error == pytest.approx(closes[target] - closes[day])

    # The monitoring figures equal a hand computation over the stored shadow forecasts: the
    # steps whose target is one of MSFT's last 20 trading days up to the as_of day.
    last = replay.monitoring_msft
    assert set(last["tickers"]) == {"MSFT"}
    assert last["model_version"] == replay.champion_before and last["as_of"] == days[-1]
    in_window = set(calendar[calendar.index(days[-1]) - WINDOW + 1 : calendar.index(days[-1]) + 1])
    errors, naive, inside = [], [], []
    msft = shadow[shadow["ticker"] == "MSFT"]
    for row in msft.itertuples():
        origin = f"{row.origin_date:%Y-%m-%d}"
        position = calendar.index(origin) + row.step
        if position < len(calendar) and calendar[position] in in_window:
            actual = closes[calendar[position]]
            errors.append(abs(actual - row.close))
            naive.append(abs(actual - closes[origin]))
            inside.append(row.lower <= actual <= row.upper)
    realized = last["tickers"]["MSFT"]["realized"]
    assert realized["window"] == WINDOW and realized["n"] == len(errors) > 0
    assert realized["mae"] == pytest.approx(np.mean(errors))
    assert realized["naive_mae"] == pytest.approx(np.mean(naive))
    assert realized["mae_ratio"] == pytest.approx(np.mean(errors) / np.mean(naive))
    assert realized["coverage"] == pytest.approx(np.mean(inside))
    counts = replay.monitoring["forecast_counts"]
    assert sum(counts.values()) == len(replay.served)

    # Autumn 2008 raises the drift flag, so the last day retrains, saying why.
    assert replay.outcome.monitored and replay.outcome.retrain
    assert any("drifted from the training period" in r for r in replay.outcome.reasons)
    flagged = [t for t, f in replay.monitoring["tickers"].items() if f["drift"]["flag"]]
    assert flagged
    for ticker in flagged:
        assert f'stock_lstm_monitoring_drift{{ticker="{ticker}"}} 1.0' in replay.metrics
    # the gauges are the report's figures
    gauges = {
        (sample.name, sample.labels.get("ticker")): sample.value
        for family in text_string_to_metric_families(replay.metrics)
        for sample in family.samples
    }
    ratios = {
        ticker: figures["realized"]["mae_ratio"]
        for ticker, figures in replay.monitoring["tickers"].items()
        if figures["realized"]["mae_ratio"] is not None
    }
    assert ratios
    for ticker, ratio in ratios.items():
        assert gauges[("stock_lstm_monitoring_mae_ratio", ticker)] == pytest.approx(ratio)
    assert replay.monitoring["champion_age_days"] is not None
    assert gauges[("stock_lstm_champion_age_days", None)] == replay.monitoring["champion_age_days"]

    # The candidate becomes champion only if it beats the champion on the window neither saw,
    # and the decision's reason is stored.
    candidate = crud_on(replay.url).get_model_version()
    assert candidate.model_version != replay.champion_before
    mae = candidate.metrics["comparison"]["mae"]
    better = mae["candidate"] < mae["champion"]
    assert (crud_on(replay.url).champion_version() == candidate.model_version) is better
    decisions = crud_on(replay.url).recent_decisions()
    promotion = next(d for d in decisions if d["kind"] == "promotion")
    assert promotion["promoted"] is better
    assert promotion["model_version"] == candidate.model_version
    assert promotion["reasons"][0].startswith("promote: if_better; MAE")
    retrain = next(d for d in decisions if d["kind"] == "retrain")
    assert retrain["retrain"] and f"{retrain['as_of']}" == days[-1]


@pytest.mark.slow
@pytest.mark.parametrize("replay", ["sqlite"], indirect=True)
def test_a_replay_retrains_at_most_once_per_reason(
    replay: Replay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay goes on, on a private copy of its SQLite project, for the trading days after
    its last one, when the recent returns have drifted from the champion's training period: a
    retrain whose candidate is kept (not better) is not repeated for the same trigger during
    the cooldown, and the champion's age counts only data a retrain could use."""
    trained = copy_trained_project(TrainedProject(replay.root, replay.url), tmp_path / "project")
    root = trained.root
    _set_project(monkeypatch, root, trained.database_url)
    everything = _trading_days(root)
    following = everything[everything.index(replay.days[-1]) + 1 :][: COOLDOWN_DAYS - 1]

    # the replay's last day, a retrain, is the first of the days judged here
    outcomes = [(replay.days[-1], replay.champion_before, replay.outcome)]
    for day in following:
        champion = crud_on().champion_version()
        outcomes.append((day, champion, run_daily(root, "test", replay_params(day))))
    dispose_engines()
    retrains: Counter[tuple[str, str]] = Counter()
    for _, champion, outcome in outcomes:
        if outcome.retrain:
            retrains.update((champion, trigger_of(r)) for r in outcome.reasons)

    report = "\n".join(f"{d} {c}: {o.retrain} {o.reasons} {o.promotion}" for d, c, o in outcomes)
    assert retrains, f"nothing triggered a retrain in the replay:\n{report}"
    assert max(retrains.values()) == 1, report
    assert not any(
        "than the data a retrain could use (" in r for *_, o in outcomes for r in o.reasons
    )
    # A kept candidate: the next day names the retrain it waits on instead of retraining.
    for (day, champion, outcome), (_, next_champion, following_outcome) in zip(
        outcomes, outcomes[1:], strict=False
    ):
        if outcome.promotion is not None and not outcome.promotion["promoted"]:
            assert next_champion == champion
            assert not following_outcome.retrain or not (
                {trigger_of(r) for r in following_outcome.reasons}
                & {trigger_of(r) for r in outcome.reasons}
            ), report
            if not following_outcome.retrain and following_outcome.monitored:
                waits = [r for r in following_outcome.reasons if f"the retrain of {day}" in r]
                assert waits or following_outcome.reasons[0].startswith("no trigger"), report
