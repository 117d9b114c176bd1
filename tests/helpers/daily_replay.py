"""The daily loop's replays on the snapshot (tests/pipelines/daily): a tiny champion trained
through 2008-09-30, then `ingestion.end` stepped one trading day at a time into autumn 2008."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from stock_lstm.data_pipeline.database import dispose_engines
from tests.conftest import mlflow_store

TRAINED_THROUGH = "2008-09-30"
START = "2006-01-01"


def replay_params(end: str) -> dict:
    """Runtime parameters of a replayed day: the snapshot from START through `end`."""
    return {"ingestion": {"start": START, "end": end}}


def train_champion(root: Path, database_url: str) -> None:
    """Every pipeline of env "test" run once on the project copy `root` through
    TRAINED_THROUGH: the tiny champion a replay starts from."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", database_url)
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store(root))
        patch.setenv("STOCK_LSTM_PROJECT_ROOT", str(root))
        patch.chdir(root)
        bootstrap_project(root)
        with KedroSession.create(
            project_path=root, env="test", runtime_params=replay_params(TRAINED_THROUGH)
        ) as session:
            session.run()
    dispose_engines()
