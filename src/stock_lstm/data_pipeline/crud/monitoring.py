"""Monitoring runs: shadow forecasts, realized scores, drift figures and decisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from stock_lstm.common.lazy import lazy_module
from stock_lstm.common.monitoring_columns import DRIFT_COLUMNS, FORECAST_COLUMNS, SCORED_COLUMNS
from stock_lstm.data_pipeline.crud.base import INSERT_CHUNK_ROWS, _from_row
from stock_lstm.data_pipeline.orm_models import (
    DriftResult,
    MonitoringDecision,
    MonitoringRun,
    RealizedScore,
    ShadowForecast,
)
from stock_lstm.data_pipeline.schema import (
    FrameSchemaError,
    TableColumns,
    as_kind,
    table_columns,
)

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: an API worker that only reads the registry never needs it
    pd = lazy_module("pandas")

# Frames in the monitoring library's shapes (stock_lstm.monitoring, which this layer may not
# import): their column names have one home, common/monitoring_columns.py.
SHADOW_FORECAST_COLUMNS = list(FORECAST_COLUMNS)
REALIZED_SCORE_COLUMNS = list(SCORED_COLUMNS)
DRIFT_RESULT_COLUMNS = list(DRIFT_COLUMNS)
_SCORES = table_columns(RealizedScore)
_DRIFT = table_columns(DriftResult)
_KEY_CHUNK = 500  # ids per IN (...) when looking up what is stored already


@dataclass(frozen=True)
class MonitoringRunInfo:
    id: int
    created_at: datetime
    as_of: date
    model_version: str
    data_version_id: int | None
    parameters: dict[str, Any]
    forecast_counts: dict[str, int]

    @classmethod
    def of(cls, row: MonitoringRun) -> MonitoringRunInfo:
        return _from_row(cls, row)


@dataclass(frozen=True)
class MonitoringSave:
    run: MonitoringRunInfo
    shadow_added: int  # shadow forecasts not stored before (a rerun of a day adds none)
    scores_added: int  # scored steps not stored before
    drift_rows: int
    decisions: int


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FrameSchemaError(f"the {name} frame lacks column(s) {', '.join(missing)}")


def _day(value: Any) -> date:
    return pd.Timestamp(value).date()


def _float_or_none(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _stored(session: Session, key_columns: Sequence[Any], id_column: Any, ids: list[str]) -> set:
    found: set = set()
    for start in range(0, len(ids), _KEY_CHUNK):
        chunk = ids[start : start + _KEY_CHUNK]
        found.update(
            tuple(r) for r in session.execute(select(*key_columns).where(id_column.in_(chunk)))
        )
    return found


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), INSERT_CHUNK_ROWS):
        session.execute(insert(model), rows[start : start + INSERT_CHUNK_ROWS])


def _not_stored(frame: pd.DataFrame, keys: list[str], stored: set) -> pd.DataFrame:
    """The rows of `frame` whose key is not in `stored`, the first of any repeated key."""
    index = pd.MultiIndex.from_arrays(
        [frame[k].astype("int64") if k == "step" else frame[k].astype(str) for k in keys]
    )
    fresh = ~index.duplicated()
    if stored:
        fresh &= ~index.isin(list(stored))
    return frame[fresh]


def _shadow_rows(shadow: pd.DataFrame, run_id: int, stored: set) -> list[dict[str, Any]]:
    stored_ids = {key[0] for key in stored}
    new = shadow[~shadow["forecast_id"].astype(str).isin(stored_ids)]
    rows = []
    for forecast_id, steps in new.sort_values("step").groupby("forecast_id", sort=True):
        first = steps.iloc[0]
        rows.append(
            {
                "model_version": str(first["model_version"]),
                "ticker": str(first["ticker"]),
                "origin_date": _day(first["origin_date"]),
                "forecast_id": str(forecast_id),
                "run_id": run_id,
                "values": [
                    {"step": int(s), "close": float(c), "lower": float(lo), "upper": float(up)}
                    for s, c, lo, up in zip(
                        steps["step"], steps["close"], steps["lower"], steps["upper"], strict=True
                    )
                ],
            }
        )
    return rows


def _score_rows(scores: pd.DataFrame, run_id: int, stored: set) -> list[dict[str, Any]]:
    new = _not_stored(scores, ["source", "forecast_id", "step"], stored)
    if new.empty:
        return []
    rows = _typed_columns(new.loc[:, REALIZED_SCORE_COLUMNS], _SCORES).assign(run_id=run_id)
    for name in _SCORES.of_kind("date"):
        rows[name] = rows[name].dt.date
    return rows.to_dict("records")  # native Python scalars (pandas boxes them)


def _typed_columns(frame: pd.DataFrame, table: TableColumns) -> pd.DataFrame:
    """`frame` (columns of `table`) with each column as its kind."""
    return frame.assign(
        **{c: as_kind(frame[c], table.kinds[c], c in table.nullable) for c in frame.columns}
    )


def save_monitoring_run(
    session: Session,
    *,
    as_of: date,
    model_version: str,
    shadow: pd.DataFrame,
    scores: pd.DataFrame,
    drift: pd.DataFrame,
    decisions: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any],
    forecast_counts: Mapping[str, int],
    data_version_id: int | None = None,
) -> MonitoringSave:
    """One monitoring run, whole in the caller's transaction: its row, the shadow forecasts and scored steps
    not stored yet (so rerunning a day or rescoring old forecasts adds nothing), the drift
    figures and the decisions. Lands whole or not at all."""
    _require(shadow, SHADOW_FORECAST_COLUMNS, "shadow forecasts")
    _require(scores, REALIZED_SCORE_COLUMNS, "realized scores")
    _require(drift, DRIFT_RESULT_COLUMNS, "drift")
    run = MonitoringRun(
        as_of=as_of,
        model_version=model_version,
        data_version_id=data_version_id,
        parameters=dict(parameters),
        forecast_counts={k: int(v) for k, v in forecast_counts.items()},
    )
    session.add(run)
    session.flush()
    shadow_ids = sorted(shadow["forecast_id"].astype(str).unique())
    shadow_rows = _shadow_rows(
        shadow,
        run.id,
        _stored(session, [ShadowForecast.forecast_id], ShadowForecast.forecast_id, shadow_ids),
    )
    _insert(session, ShadowForecast, shadow_rows)
    score_ids = sorted(scores["forecast_id"].astype(str).unique())
    stored_scores = _stored(
        session,
        [RealizedScore.source, RealizedScore.forecast_id, RealizedScore.step],
        RealizedScore.forecast_id,
        score_ids,
    )
    score_rows = _score_rows(scores, run.id, stored_scores)
    _insert(session, RealizedScore, score_rows)
    drift_rows = [
        {
            "run_id": run.id,
            "ticker": str(r["ticker"]),
            "feature": str(r["feature"]),
            "n_reference": int(r["n_reference"]),
            "n_recent": int(r["n_recent"]),
            "ks": _float_or_none(r["ks"]),
            "ks_pvalue": _float_or_none(r["ks_pvalue"]),
            "psi": _float_or_none(r["psi"]),
            "flag": bool(r["flag"]),
        }
        for r in drift.to_dict("records")
    ]
    _insert(session, DriftResult, drift_rows)
    for decision in decisions:
        session.add(_decision_row(decision, run.id))
    session.flush()
    return MonitoringSave(
        run=MonitoringRunInfo.of(run),
        shadow_added=len(shadow_rows),
        scores_added=len(score_rows),
        drift_rows=len(drift_rows),
        decisions=len(decisions),
    )


def _decision_row(decision: Mapping[str, Any], run_id: int | None) -> MonitoringDecision:
    reasons = [str(r) for r in decision.get("reasons") or []]
    if not reasons:
        raise ValueError(f"a {decision.get('kind')} decision must give at least one reason")
    return MonitoringDecision(
        run_id=run_id,
        kind=str(decision["kind"]),
        as_of=_day(decision["as_of"]),
        model_version=decision.get("model_version"),
        retrain=decision.get("retrain"),
        promoted=decision.get("promoted"),
        reasons=reasons,
    )


def record_decision(session: Session, decision: Mapping[str, Any]) -> None:
    """A decision taken outside a monitoring run (e.g. the registry's promotion)."""
    session.add(_decision_row(decision, None))


def recent_decisions(
    session: Session, limit: int = 20, run_id: int | None = None
) -> list[dict[str, Any]]:
    """The newest decisions first (those of monitoring run `run_id` when given): kind, as_of,
    model_version, retrain, promoted, reasons."""
    query = select(MonitoringDecision).order_by(MonitoringDecision.id.desc()).limit(limit)
    if run_id is not None:
        query = query.where(MonitoringDecision.run_id == run_id)
    rows = session.scalars(query)
    return [
        {
            "kind": r.kind,
            "as_of": r.as_of,
            "model_version": r.model_version,
            "retrain": r.retrain,
            "promoted": r.promoted,
            "reasons": list(r.reasons),
        }
        for r in rows
    ]


def latest_monitoring_run(
    session: Session, model_version: str | None = None
) -> MonitoringRunInfo | None:
    """The newest run (of `model_version` when given)."""
    query = select(MonitoringRun).order_by(MonitoringRun.id.desc()).limit(1)
    if model_version is not None:
        query = query.where(MonitoringRun.model_version == model_version)
    row = session.scalars(query).first()
    return MonitoringRunInfo.of(row) if row is not None else None


def load_drift_results(session: Session, run_id: int) -> pd.DataFrame:
    """One run's drift rows (DRIFT_RESULT_COLUMNS; NULL figures come back as NaN)."""
    rows = session.scalars(
        select(DriftResult)
        .where(DriftResult.run_id == run_id)
        .order_by(DriftResult.ticker, DriftResult.feature)
    ).all()
    frame = pd.DataFrame(
        [{c: getattr(r, c) for c in DRIFT_RESULT_COLUMNS} for r in rows],
        columns=DRIFT_RESULT_COLUMNS,
    )
    return _typed_columns(frame, _DRIFT)


def load_shadow_forecasts(session: Session, model_version: str | None = None) -> pd.DataFrame:
    """Stored shadow forecasts as forecast rows (SHADOW_FORECAST_COLUMNS), oldest first."""
    query = select(ShadowForecast).order_by(
        ShadowForecast.origin_date, ShadowForecast.ticker, ShadowForecast.model_version
    )
    if model_version is not None:
        query = query.where(ShadowForecast.model_version == model_version)
    records = [
        {
            "forecast_id": r.forecast_id,
            "source": "shadow",
            "ticker": r.ticker,
            "origin_date": r.origin_date,
            "model_version": r.model_version,
            **value,
        }
        for r in session.scalars(query)
        for value in r.values
    ]
    frame = pd.DataFrame(records, columns=SHADOW_FORECAST_COLUMNS)
    frame["origin_date"] = as_kind(frame["origin_date"], "date")
    frame["step"] = as_kind(frame["step"], "int", nullable=False)
    return frame


def load_realized_scores(session: Session, model_version: str | None = None) -> pd.DataFrame:
    """Stored scored steps (REALIZED_SCORE_COLUMNS), by source, ticker, origin and step."""
    query = select(RealizedScore).order_by(
        RealizedScore.source,
        RealizedScore.ticker,
        RealizedScore.origin_date,
        RealizedScore.forecast_id,
        RealizedScore.step,
    )
    if model_version is not None:
        query = query.where(RealizedScore.model_version == model_version)
    frame = pd.DataFrame(
        [{c: getattr(r, c) for c in REALIZED_SCORE_COLUMNS} for r in session.scalars(query)],
        columns=REALIZED_SCORE_COLUMNS,
    )
    return _typed_columns(frame, _SCORES)
