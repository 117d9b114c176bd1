"""Monitoring results in the database (SQLite and PostgreSQL): a run lands whole, reruns add
nothing twice, and what is loaded back is what the monitoring library made and reads."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from stock_lstm.data_pipeline import crud
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.orm_models import Base, MonitoringRun
from stock_lstm.monitoring.drift import DRIFT_COLUMNS, drift_statistics
from stock_lstm.monitoring.scoring import (
    FORECAST_COLUMNS,
    SCORED_COLUMNS,
    combine_forecasts,
    forecast_steps_from_log,
    score_forecasts,
)
from stock_lstm.monitoring.shadow import shadow_forecasts
from tests.helpers.database import crud_on, migrated_engine

MONITORING_TABLES = {
    "monitoring_runs",
    "shadow_forecasts",
    "realized_scores",
    "drift_results",
    "monitoring_decisions",
}
DRIFT_PARAMS = {
    "recent_days": 5,
    "psi_bins": 2,
    "psi_epsilon": 1e-4,
    "ks_threshold": 0.3,
    "psi_threshold": 0.5,
}


def test_the_crud_frames_have_the_monitoring_librarys_columns() -> None:
    assert crud.SHADOW_FORECAST_COLUMNS == list(FORECAST_COLUMNS)
    assert crud.REALIZED_SCORE_COLUMNS == list(SCORED_COLUMNS)
    assert crud.DRIFT_RESULT_COLUMNS == list(DRIFT_COLUMNS)


def test_the_monitoring_tables_store_every_shared_column() -> None:
    """The names have one home (common/monitoring_columns.py); the score and drift tables hold
    exactly those columns (shadow forecasts keep their steps as JSON)."""
    stored = {name: set(Base.metadata.tables[name].columns.keys()) for name in MONITORING_TABLES}
    assert stored["realized_scores"] - {"run_id"} == set(SCORED_COLUMNS)
    assert stored["drift_results"] - {"run_id"} == set(DRIFT_COLUMNS)


def test_the_migration_matches_the_orm(database_url: str) -> None:
    engine = migrated_engine(database_url)
    assert MONITORING_TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [
        d
        for d in differences
        if any(table in str(d) for table in [*MONITORING_TABLES, "predictions"])
    ]
    assert ours == []


def _prices(days: int = 12) -> pd.DataFrame:
    dates = pd.bdate_range("2024-01-01", periods=days)
    return pd.concat(
        [
            pd.DataFrame({"ticker": t, "date": dates, "close": 100.0 + np.arange(days) * step})
            for t, step in (("AAA", 1.0), ("BBB", -0.5))
        ],
        ignore_index=True,
    )


def _flat_model(ticker: str, history: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    close = np.full(3, history[-1])
    return close, close * 0.99, close * 1.01


def _run(prices: pd.DataFrame, as_of: dt.date, url: str) -> crud.MonitoringSave:
    """What the daily pipeline will do: shadow forecasts, scores of all, drift, a decision."""
    origins = list(prices["date"].drop_duplicates().dt.date)
    shadow = shadow_forecasts(_flat_model, prices, "v1", 2, origins=origins)
    scored = score_forecasts(
        combine_forecasts(crud_on(url).load_shadow_forecasts(), shadow), prices
    )
    features = prices.assign(log_return=np.log(prices["close"]).groupby(prices["ticker"]).diff())
    drift = drift_statistics(features, dt.date(2024, 1, 8), as_of, DRIFT_PARAMS)
    decision = {
        "kind": "retrain",
        "as_of": as_of,
        "model_version": "v1",
        "retrain": False,
        "reasons": ["no trigger"],
    }
    return crud_on(url).save_monitoring_run(
        as_of=as_of,
        model_version="v1",
        shadow=shadow,
        scores=scored.steps,
        drift=drift,
        decisions=[decision],
        parameters={"windows": [20]},
        forecast_counts=scored.status_counts(),
    )


def test_a_run_round_trips(database_url: str) -> None:
    prices = _prices()
    saved = _run(prices, dt.date(2024, 1, 16), database_url)
    # 2 tickers x 11 origins (rows 1..11 have >= 2 closes), 3 steps each; targets exist up to
    # row 11: origins 1..8 fully scored, 9 two steps, 10 one step, 11 none
    assert saved.shadow_added == 22
    assert saved.scores_added == 2 * (8 * 3 + 2 + 1)
    assert (saved.drift_rows, saved.decisions) == (4, 1)

    shadow = crud_on(database_url).load_shadow_forecasts()
    assert list(shadow.columns) == list(FORECAST_COLUMNS)
    expected = shadow_forecasts(_flat_model, prices, "v1", 2, origins=list(prices["date"].dt.date))
    key = ["forecast_id", "step"]
    pd.testing.assert_frame_equal(
        shadow.sort_values(key).reset_index(drop=True),
        expected.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    scores = crud_on(database_url).load_realized_scores("v1")
    again = score_forecasts(shadow, prices).steps
    pd.testing.assert_frame_equal(
        scores.sort_values(["forecast_id", "step"]).reset_index(drop=True),
        again.sort_values(["forecast_id", "step"]).reset_index(drop=True),
        check_dtype=False,
    )
    run = crud_on(database_url).latest_monitoring_run()
    assert run is not None and run.id == saved.run.id
    assert run.as_of == dt.date(2024, 1, 16)
    assert run.forecast_counts["partial"] == 4  # the last 2 origins of each ticker
    drift = crud_on(database_url).load_drift_results(run.id)
    assert list(drift.columns) == list(DRIFT_COLUMNS)
    assert drift["ks"].notna().all()
    assert crud_on(database_url).recent_decisions() == [
        {
            "kind": "retrain",
            "as_of": dt.date(2024, 1, 16),
            "model_version": "v1",
            "retrain": False,
            "promoted": None,
            "reasons": ["no trigger"],
        }
    ]


def test_rerunning_a_day_adds_no_forecast_or_score_twice(database_url: str) -> None:
    prices = _prices()
    _run(prices.groupby("ticker").head(10), dt.date(2024, 1, 12), database_url)
    second = _run(prices, dt.date(2024, 1, 16), database_url)
    # new: the origins of rows 10 and 11 (01-15, 01-16); scores: steps whose target is row
    # 10 (origins 7, 8, 9) or row 11 (origins 8, 9, 10)
    assert second.shadow_added == 4
    assert second.scores_added == 2 * (3 + 3)
    third = _run(prices, dt.date(2024, 1, 16), database_url)
    assert (third.shadow_added, third.scores_added) == (0, 0)
    assert len(crud_on(database_url).recent_decisions()) == 3
    assert crud_on(database_url).latest_monitoring_run().id == third.run.id


def test_too_little_data_is_stored_as_null_and_loaded_as_nan(database_url: str) -> None:
    drift = pd.DataFrame(
        [["AAA", "log_return", 3, 2, np.nan, np.nan, np.nan, False]], columns=list(DRIFT_COLUMNS)
    )
    empty_shadow = pd.DataFrame({c: [] for c in FORECAST_COLUMNS})
    empty_scores = pd.DataFrame({c: [] for c in SCORED_COLUMNS})
    saved = crud_on(database_url).save_monitoring_run(
        as_of=dt.date(2024, 1, 2),
        model_version="v1",
        shadow=empty_shadow,
        scores=empty_scores,
        drift=drift,
        decisions=[],
        parameters={},
        forecast_counts={},
    )
    loaded = crud_on(database_url).load_drift_results(saved.run.id)
    assert loaded["ks"].isna().all() and loaded["psi"].isna().all()
    assert not loaded["flag"].any()


def test_a_failing_save_leaves_nothing(database_url: str) -> None:
    prices = _prices()
    with pytest.raises(ValueError, match="must give at least one reason"):
        crud_on(database_url).save_monitoring_run(
            as_of=dt.date(2024, 1, 16),
            model_version="v1",
            shadow=shadow_forecasts(_flat_model, prices, "v1", 2),
            scores=pd.DataFrame({c: [] for c in SCORED_COLUMNS}),
            drift=pd.DataFrame({c: [] for c in DRIFT_COLUMNS}),
            decisions=[{"kind": "retrain", "as_of": "2024-01-16", "reasons": []}],
            parameters={},
            forecast_counts={},
        )
    with get_database(database_url).session() as session:
        assert session.scalar(select(func.count()).select_from(MonitoringRun)) == 0
    assert crud_on(database_url).load_shadow_forecasts().empty


def test_a_promotion_decision_is_recorded_outside_a_run(database_url: str) -> None:
    crud_on(database_url).record_decision(
        {
            "kind": "promotion",
            "as_of": dt.date(2024, 1, 16),
            "model_version": "v2",
            "promoted": True,
            "reasons": ["v2 beats v1 on the latest validation window (MAE ratio 0.97 < 0.99)"],
        }
    )
    (decision,) = crud_on(database_url).recent_decisions()
    assert decision["kind"] == "promotion" and decision["promoted"] is True
    assert decision["retrain"] is None


def test_a_frame_without_its_columns_is_named(database_url: str) -> None:
    with pytest.raises(crud.FrameSchemaError, match="drift frame lacks column.*psi"):
        crud_on(database_url).save_monitoring_run(
            as_of=dt.date(2024, 1, 16),
            model_version="v1",
            shadow=pd.DataFrame({c: [] for c in FORECAST_COLUMNS}),
            scores=pd.DataFrame({c: [] for c in SCORED_COLUMNS}),
            drift=pd.DataFrame({c: [] for c in DRIFT_COLUMNS if c != "psi"}),
            decisions=[],
            parameters={},
            forecast_counts={},
        )


def test_logged_forecasts_are_read_back_for_scoring(database_url: str) -> None:
    prices = _prices()
    values = [
        {"step": 1, "date": "2024-01-03", "close": 101.5, "lower": 100.0, "upper": 103.0},
        {"step": 2, "date": "2024-01-04", "close": 102.5, "lower": 101.0, "upper": 104.0},
    ]
    common = {"created_at": dt.datetime.now(dt.UTC), "request_id": None, "latency_ms": 1.0}
    crud_on(database_url).record_predictions(
        [
            {
                **common,
                "ticker": "AAA",
                "origin_date": dt.date(2024, 1, 2),
                "model_version": "v1",
                "horizon": 2,
                "values": values,
            },
            {
                **common,
                "ticker": None,
                "origin_date": None,
                "model_version": "v1",
                "horizon": 2,
                "values": values,
            },
        ]
    )
    log = crud_on(database_url).load_logged_forecasts()
    assert list(log.columns) == ["id", "ticker", "origin_date", "model_version", "values"]
    scored = score_forecasts(forecast_steps_from_log(log), prices)
    # AAA from 01-02 (101): 01-03 closes 102, 01-04 closes 103
    assert scored.steps["actual"].tolist() == [102.0, 103.0]
    assert scored.steps["error"].tolist() == [102.0 - 101.5, 103.0 - 102.5]
    assert scored.status_counts()["no_ticker"] == 1
