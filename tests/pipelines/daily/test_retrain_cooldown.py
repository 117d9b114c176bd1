"""The daily loop replayed on the snapshot retrains at most once per reason: a retrain whose
candidate is kept (not better) is not repeated for the same trigger during the cooldown, and the
champion's age counts only data a retrain could use."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.startup import bootstrap_project

from stock_lstm.cli.daily import run_daily
from stock_lstm.data_pipeline.database import dispose_engines
from stock_lstm.monitoring.policy import trigger_of
from tests.conftest import TrainedProject, copy_trained_project, mlflow_store
from tests.helpers.daily_replay import TRAINED_THROUGH, replay_params
from tests.helpers.database import crud_on

# Five trading days late in the autumn-2008 replay (tests/pipelines/daily/test_replay.py),
# when the recent returns have drifted from the champion's training period.
FIRST_DAY, DAYS = 25, 5


@pytest.mark.slow
def test_a_replay_retrains_at_most_once_per_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, champion_2008: TrainedProject
) -> None:
    trained = copy_trained_project(champion_2008, tmp_path / "project")  # the tiny champion
    root = trained.root
    monkeypatch.setenv("DATABASE_URL", trained.database_url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store(root))
    monkeypatch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
    monkeypatch.chdir(root)
    bootstrap_project(root)
    dates = pd.read_csv(root / "data" / "01_raw" / "snapshot" / "MSFT.csv", usecols=["Date"])
    days = sorted(d for d in dates["Date"] if d > TRAINED_THROUGH)[FIRST_DAY : FIRST_DAY + DAYS]

    retrains: Counter[tuple[str, str]] = Counter()
    outcomes = []
    for day in days:
        champion = crud_on().champion_version()
        outcome = run_daily(root, "test", replay_params(day))
        outcomes.append((day, champion, outcome))
        if outcome.retrain:
            retrains.update((champion, trigger_of(r)) for r in outcome.reasons)
    dispose_engines()

    report = "\n".join(f"{d} {c}: {o.retrain} {o.reasons} {o.promotion}" for d, c, o in outcomes)
    assert retrains, f"nothing triggered a retrain in the replay:\n{report}"
    assert max(retrains.values()) == 1, report
    assert not any(
        "than the data a retrain could use (" in r for *_, o in outcomes for r in o.reasons
    )
    # A kept candidate: the next day names the retrain it waits on instead of retraining.
    for (day, champion, outcome), (_, next_champion, following) in zip(
        outcomes, outcomes[1:], strict=False
    ):
        if outcome.promotion is not None and not outcome.promotion["promoted"]:
            assert next_champion == champion
            assert not following.retrain or not (
                {trigger_of(r) for r in following.reasons}
                & {trigger_of(r) for r in outcome.reasons}
            ), report
            if not following.retrain and following.monitored:
                waits = [r for r in following.reasons if f"the retrain of {day}" in r]
                assert waits or following.reasons[0].startswith("no trigger"), report
