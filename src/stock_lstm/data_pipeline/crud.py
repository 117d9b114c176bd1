"""The one module that reads and writes the database. Every session is opened here.

Stage tables (raw_prices, clean_prices, features) are versioned: a save writes a `data_versions`
row and all the frame's rows in one transaction, unless the content equals the latest version of
that stage, in which case nothing is written. Loading gives the latest version or a pinned one.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline.database import session_scope
from stock_lstm.data_pipeline.orm_models import (
    STAGE_MODELS,
    DataVersion,
    DriftResult,
    ModelVersion,
    ModelVersionEvent,
    MonitoringDecision,
    MonitoringRun,
    Prediction,
    RealizedScore,
    ShadowForecast,
)

INSERT_CHUNK_ROWS = 5_000
FLOAT_HASH_FORMAT = "%.17g"  # round-trips a float64 exactly, so a reload hashes the same


class StageError(LookupError):
    """A stage table has no version (yet), or not the one asked for."""


class FrameSchemaError(ValueError):
    """A frame handed to a save lacks a column its stage table needs."""


@dataclass(frozen=True)
class VersionInfo:
    id: int
    stage: str
    created_at: datetime
    source: str
    content_hash: str
    row_count: int
    parent_id: int | None

    @classmethod
    def of(cls, row: DataVersion) -> VersionInfo:
        return cls(
            id=row.id,
            stage=row.stage,
            created_at=row.created_at,
            source=row.source,
            content_hash=row.content_hash,
            row_count=row.row_count,
            parent_id=row.parent_id,
        )


@dataclass(frozen=True)
class SaveResult:
    version: VersionInfo
    created: bool  # False when the content equalled the latest version's


def _stage_model(stage: str):
    try:
        return STAGE_MODELS[stage]
    except KeyError:
        raise StageError(
            f"unknown stage {stage!r}; the stages are {', '.join(STAGE_MODELS)}"
        ) from None


def stage_columns(stage: str) -> list[str]:
    """The frame columns of a stage table, in table order (without version_id)."""
    model = _stage_model(stage)
    return [c.name for c in model.__table__.columns if c.name != "version_id"]


def _column_kinds(stage: str) -> dict[str, str]:
    kinds = {}
    for column in _stage_model(stage).__table__.columns:
        python_type = column.type.python_type
        if python_type is date:
            kinds[column.name] = "date"
        elif python_type is int:
            kinds[column.name] = "int"
        elif python_type is float:
            kinds[column.name] = "float"
        else:
            kinds[column.name] = "str"
    return kinds


def canonical_frame(frame: pd.DataFrame, stage: str) -> pd.DataFrame:
    """The stage's columns in table order, typed and sorted by (ticker, date): what gets hashed."""
    columns = stage_columns(stage)
    missing = [c for c in columns if c not in frame.columns and c not in _nullable(stage)]
    if missing:
        raise FrameSchemaError(
            f"cannot save stage {stage!r}: the frame lacks column(s) {', '.join(missing)}"
        )
    kinds = _column_kinds(stage)
    out = pd.DataFrame(index=frame.index)
    for name in columns:
        values = frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index)
        kind = kinds[name]
        if kind == "date":
            out[name] = pd.to_datetime(values).dt.normalize().astype("datetime64[ns]")
        elif kind == "int":
            out[name] = pd.to_numeric(values).round().astype("Int64")
        elif kind == "float":
            out[name] = pd.to_numeric(values).astype("float64")
        else:
            out[name] = values.astype(str)
    return out.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


def _nullable(stage: str) -> set[str]:
    model = _stage_model(stage)
    return {c.name for c in model.__table__.columns if c.nullable and not c.primary_key}


def content_hash(frame: pd.DataFrame) -> str:
    """sha256 of a canonical frame's text: equal content, equal hash, whatever the row order."""
    text = frame.to_csv(
        index=False, float_format=FLOAT_HASH_FORMAT, na_rep="", date_format="%Y-%m-%d"
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _records(frame: pd.DataFrame, stage: str) -> Iterable[list[dict[str, Any]]]:
    kinds = _column_kinds(stage)
    converted: dict[str, list[Any]] = {}
    for name in frame.columns:
        series = frame[name]
        kind = kinds[name]
        if kind == "date":
            converted[name] = [ts.date() for ts in series]
        elif kind == "int":
            converted[name] = [None if pd.isna(v) else int(v) for v in series]
        elif kind == "float":
            converted[name] = [None if np.isnan(v) else float(v) for v in series.to_numpy()]
        else:
            converted[name] = series.tolist()
    names = list(converted)
    rows = [
        dict(zip(names, values, strict=True)) for values in zip(*converted.values(), strict=True)
    ]
    for start in range(0, len(rows), INSERT_CHUNK_ROWS):
        yield rows[start : start + INSERT_CHUNK_ROWS]


def _latest(session: Session, stage: str) -> DataVersion | None:
    return session.scalars(
        select(DataVersion)
        .where(DataVersion.stage == stage)
        .order_by(DataVersion.id.desc())
        .limit(1)
    ).first()


def save_stage_frame(
    frame: pd.DataFrame,
    stage: str,
    *,
    source: str,
    parent_id: int | None = None,
    url: str | None = None,
) -> SaveResult:
    """Store `frame` as a new version of `stage`, or nothing when it equals the latest version.

    One transaction: the version row and every data row land together or not at all.
    """
    canonical = canonical_frame(frame, stage)
    digest = content_hash(canonical)
    model = _stage_model(stage)
    with session_scope(url) as session:
        _lock_stage(session, stage)
        latest = _latest(session, stage)
        if latest is not None and latest.content_hash == digest:
            return SaveResult(VersionInfo.of(latest), created=False)
        if parent_id is not None and session.get(DataVersion, parent_id) is None:
            raise StageError(
                f"cannot save stage {stage!r}: parent version {parent_id} does not exist"
            )
        version = DataVersion(
            stage=stage,
            source=source[:255],
            content_hash=digest,
            row_count=len(canonical),
            parent_id=parent_id,
        )
        session.add(version)
        session.flush()
        for chunk in _records(canonical, stage):
            for row in chunk:
                row["version_id"] = version.id
            session.execute(insert(model), chunk)
        session.flush()
        return SaveResult(VersionInfo.of(version), created=True)


def _lock_stage(session: Session, stage: str) -> None:
    """Serialise saves of one stage until the transaction ends, so two writers of the same
    content cannot both find it missing and store it twice.

    PostgreSQL: a transaction-scoped advisory lock per stage. SQLite: a write that matches no
    row takes the database's write lock before the transaction reads anything (a later upgrade
    from reader to writer could fail instead of waiting for the busy timeout).
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"stock_lstm:{stage}".encode()).digest()[:8], "big")
        session.execute(select(func.pg_advisory_xact_lock(key - (1 << 63))))
    else:
        session.execute(
            update(DataVersion).where(DataVersion.id.is_(None)).values(stage=DataVersion.stage)
        )


def latest_version(stage: str, url: str | None = None) -> VersionInfo | None:
    _stage_model(stage)
    with session_scope(url) as session:
        row = _latest(session, stage)
        return VersionInfo.of(row) if row is not None else None


def get_version(version_id: int, url: str | None = None) -> VersionInfo | None:
    with session_scope(url) as session:
        row = session.get(DataVersion, version_id)
        return VersionInfo.of(row) if row is not None else None


def list_versions(stage: str | None = None, url: str | None = None) -> list[VersionInfo]:
    with session_scope(url) as session:
        query = select(DataVersion).order_by(DataVersion.id)
        if stage is not None:
            query = query.where(DataVersion.stage == stage)
        return [VersionInfo.of(row) for row in session.scalars(query)]


def _resolve_version(session: Session, stage: str, version_id: int | None) -> DataVersion:
    if version_id is None:
        version = _latest(session, stage)
        if version is None:
            raise StageError(
                f"stage {stage!r} has no data yet: run the pipeline that writes it "
                f"(e.g. `kedro run --pipelines ingestion,cleaning`)"
            )
        return version
    version = session.get(DataVersion, version_id)
    if version is None or version.stage != stage:
        raise StageError(f"stage {stage!r} has no version {version_id}")
    return version


def _typed_frame(rows: Sequence[Any], stage: str) -> pd.DataFrame:
    columns = stage_columns(stage)
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for name, kind in _column_kinds(stage).items():
        if name not in frame.columns:
            continue
        if kind == "date":
            frame[name] = pd.to_datetime(frame[name]).astype("datetime64[ns]")
        elif kind == "int":
            frame[name] = frame[name].astype("Int64")
        elif kind == "float":
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
        else:
            frame[name] = frame[name].astype(str)
    return frame


def load_stage_frame(
    stage: str,
    version_id: int | None = None,
    *,
    tickers: Sequence[str] | None = None,
    url: str | None = None,
) -> pd.DataFrame:
    """A version of `stage` (latest unless pinned) sorted by (ticker, date), with stable dtypes.

    `frame.attrs` carries `version_id`, `stage` and `source` so derived stages can record lineage.
    """
    model = _stage_model(stage)
    with session_scope(url) as session:
        version = _resolve_version(session, stage, version_id)
        columns = [getattr(model, name) for name in stage_columns(stage)]
        query = select(*columns).where(model.version_id == version.id)
        if tickers is not None:
            query = query.where(model.ticker.in_(list(tickers)))
        rows = session.execute(query.order_by(model.ticker, model.date)).all()
        info = VersionInfo.of(version)
    frame = _typed_frame(rows, stage)
    frame.attrs.update(version_id=info.id, stage=stage, source=info.source)
    return frame


@dataclass(frozen=True)
class TickerSummary:
    ticker: str
    first_date: date
    last_date: date
    rows: int


def ticker_summaries(stage: str = "clean", url: str | None = None) -> list[TickerSummary]:
    """Each ticker of the latest version of `stage` with its date range and row count."""
    model = _stage_model(stage)
    with session_scope(url) as session:
        version = _latest(session, stage)
        if version is None:
            return []
        query = (
            select(model.ticker, func.min(model.date), func.max(model.date), func.count())
            .where(model.version_id == version.id)
            .group_by(model.ticker)
            .order_by(model.ticker)
        )
        return [TickerSummary(*row) for row in session.execute(query).all()]


def load_ticker_prices(
    ticker: str,
    *,
    stage: str = "clean",
    start: date | None = None,
    end: date | None = None,
    limit: int | None = None,
    url: str | None = None,
) -> pd.DataFrame:
    """One ticker's rows of the latest version, oldest first; `limit` keeps the newest rows."""
    model = _stage_model(stage)
    with session_scope(url) as session:
        version = _resolve_version(session, stage, None)
        columns = [getattr(model, name) for name in stage_columns(stage)]
        query = select(*columns).where(model.version_id == version.id, model.ticker == ticker)
        if start is not None:
            query = query.where(model.date >= start)
        if end is not None:
            query = query.where(model.date <= end)
        query = query.order_by(model.date.desc())
        if limit is not None:
            query = query.limit(limit)
        rows = list(reversed(session.execute(query).all()))
        version_id = version.id
    frame = _typed_frame(rows, stage)
    frame.attrs.update(version_id=version_id, stage=stage)
    return frame


# --- model versions: the registry ------------------------------------------------------------

REGISTRY_CHANNEL = "stock_lstm_model_registry"  # PostgreSQL NOTIFY channel of champion changes
LISTEN_SLICE_S = 0.5  # a listener looks at its stop event at least this often
_LISTEN_STATEMENT = 'LISTEN "stock_lstm_model_registry"'  # REGISTRY_CHANNEL, a constant


class UnknownModelVersion(LookupError):
    """No model_versions row has that version."""


@dataclass(frozen=True)
class ModelVersionInfo:
    model_version: str
    trained_at: datetime
    data_version_id: int | None
    parameters: dict[str, Any]
    metrics: dict[str, Any]
    model_sha256: str
    scaler_sha256: str
    mlflow_run_id: str | None = None
    status: str = "candidate"
    serving_sha256: dict[str, str] | None = None


@dataclass(frozen=True)
class RegistryEvent:
    model_version: str
    from_status: str | None
    to_status: str
    at: datetime
    reason: str
    actor: str


@dataclass(frozen=True)
class Promotion:
    champion: str
    previous: str | None
    changed: bool  # False when the version already was the champion (nothing recorded)


def _model_info(row: ModelVersion) -> ModelVersionInfo:
    return ModelVersionInfo(
        model_version=row.model_version,
        trained_at=row.trained_at,
        data_version_id=row.data_version_id,
        parameters=row.parameters,
        metrics=row.metrics,
        model_sha256=row.model_sha256,
        scaler_sha256=row.scaler_sha256,
        mlflow_run_id=row.mlflow_run_id,
        status=row.status,
        serving_sha256=row.serving_sha256,
    )


def _model_row(session: Session, model_version: str) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion).where(ModelVersion.model_version == model_version)
    ).first()


def record_model_version(
    *,
    model_version: str,
    trained_at: datetime,
    data_version_id: int | None,
    parameters: dict[str, Any],
    metrics: dict[str, Any],
    model_sha256: str,
    scaler_sha256: str,
    serving_sha256: dict[str, str] | None = None,
    promote: bool = False,
    reason: str = "evaluated",
    actor: str = "evaluation",
    mlflow_run_id: str | None = None,
    url: str | None = None,
) -> ModelVersionInfo:
    """Insert (a new candidate, audited) or update (re-evaluation, status kept) one model
    version's row; with `promote`, make it the champion in the same transaction. An update
    keeps the row's MLflow run id unless one is given."""
    with session_scope(url) as session:
        _lock_registry(session)
        row = _model_row(session, model_version)
        created = row is None
        if row is None:
            row = ModelVersion(model_version=model_version, status="candidate")
            session.add(row)
        row.trained_at = trained_at
        row.data_version_id = data_version_id
        row.parameters = parameters
        row.metrics = metrics
        row.model_sha256 = model_sha256
        row.scaler_sha256 = scaler_sha256
        if mlflow_run_id is not None:
            row.mlflow_run_id = mlflow_run_id
        row.serving_sha256 = serving_sha256
        session.flush()
        if created:
            _audit(session, model_version, None, "candidate", "evaluated", actor)
        if promote:
            _promote(session, row, reason=reason, actor=actor)
        return _model_info(row)


def set_model_version_mlflow_run(
    model_version: str, mlflow_run_id: str, url: str | None = None
) -> None:
    """Link a recorded model version to the MLflow run that trained it."""
    with session_scope(url) as session:
        updated = session.execute(
            update(ModelVersion)
            .where(ModelVersion.model_version == model_version)
            .values(mlflow_run_id=mlflow_run_id)
        )
        if updated.rowcount == 0:
            raise LookupError(f"no model_versions row for model version {model_version}")


def get_model_version(
    model_version: str | None = None, url: str | None = None
) -> ModelVersionInfo | None:
    """A model version's row, or the newest one when no version is named."""
    with session_scope(url) as session:
        query = select(ModelVersion)
        if model_version is None:
            query = query.order_by(ModelVersion.id.desc()).limit(1)
        else:
            query = query.where(ModelVersion.model_version == model_version)
        row = session.scalars(query).first()
        return _model_info(row) if row is not None else None


def list_model_versions(url: str | None = None) -> list[ModelVersionInfo]:
    """Every recorded model version, newest first."""
    with session_scope(url) as session:
        rows = session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()))
        return [_model_info(row) for row in rows]


def champion_version(url: str | None = None) -> str | None:
    """The version every API worker serves, or None (cheap: the workers poll it)."""
    with session_scope(url) as session:
        return session.scalar(
            select(ModelVersion.model_version).where(ModelVersion.status == "champion")
        )


def previous_champion(url: str | None = None) -> str | None:
    """The version most recently replaced as champion (what a rollback serves), or None."""
    with session_scope(url) as session:
        current = session.scalar(
            select(ModelVersion.model_version).where(ModelVersion.status == "champion")
        )
        query = (
            select(ModelVersionEvent.model_version)
            .where(ModelVersionEvent.from_status == "champion")
            .order_by(ModelVersionEvent.id.desc())
        )
        if current is not None:
            query = query.where(ModelVersionEvent.model_version != current)
        return session.scalars(query.limit(1)).first()


def promote_model_version(
    model_version: str, *, reason: str, actor: str, url: str | None = None
) -> Promotion:
    """Make `model_version` the champion (the old one retires), audited, in one transaction;
    PostgreSQL then notifies every listening worker. Promoting the champion changes nothing."""
    with session_scope(url) as session:
        _lock_registry(session)
        row = _model_row(session, model_version)
        if row is None:
            raise UnknownModelVersion(f"unknown model version {model_version!r}")
        return _promote(session, row, reason=reason, actor=actor)


def registry_events(limit: int = 200, url: str | None = None) -> list[RegistryEvent]:
    """The registry's audit trail, newest first."""
    with session_scope(url) as session:
        rows = session.scalars(
            select(ModelVersionEvent).order_by(ModelVersionEvent.id.desc()).limit(limit)
        )
        return [
            RegistryEvent(
                model_version=r.model_version,
                from_status=r.from_status,
                to_status=r.to_status,
                at=r.at,
                reason=r.reason,
                actor=r.actor,
            )
            for r in rows
        ]


def _promote(session: Session, row: ModelVersion, *, reason: str, actor: str) -> Promotion:
    current = session.scalars(select(ModelVersion).where(ModelVersion.status == "champion")).first()
    if current is not None and current.model_version == row.model_version:
        return Promotion(champion=row.model_version, previous=None, changed=False)
    previous = current.model_version if current is not None else None
    if current is not None:
        current.status = "retired"
        session.flush()  # at most one champion (a unique index): retire before promoting
        _audit(
            session,
            previous,
            "champion",
            "retired",
            f"replaced by {row.model_version}: {reason}",
            actor,
        )
    from_status = row.status
    row.status = "champion"
    session.flush()
    _audit(session, row.model_version, from_status, "champion", reason, actor)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(REGISTRY_CHANNEL, row.model_version)))
    return Promotion(champion=row.model_version, previous=previous, changed=True)


def _audit(
    session: Session, version: str, from_status: str | None, to_status: str, reason: str, actor: str
) -> None:
    session.add(
        ModelVersionEvent(
            model_version=version,
            from_status=from_status,
            to_status=to_status,
            reason=reason[:500],
            actor=actor[:64],
        )
    )


def _lock_registry(session: Session) -> None:
    """Serialise registry changes (two promotions at once cannot both retire the same champion)."""
    _lock_stage(session, "model_registry")


class RegistryListener:
    """Wakes a worker as soon as the champion changes: PostgreSQL LISTEN on REGISTRY_CHANNEL.

    On other databases (SQLite) `wait` just sleeps: the caller polls `champion_version` after
    every wait, which is also the safety net if a notification is missed.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: Any = None
        self._listens = make_url(url).get_backend_name() == "postgresql"

    def wait(self, timeout_s: float, stop: threading.Event) -> None:
        """Return on a notification, after `timeout_s` seconds, or soon after `stop` is set."""
        if not self._listens:
            stop.wait(timeout_s)
            return
        deadline = time.monotonic() + timeout_s
        try:
            if self._connection is None:
                self._connection = self._connect()
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                slice_s = min(left, LISTEN_SLICE_S)
                if any(True for _ in self._connection.notifies(timeout=slice_s, stop_after=1)):
                    return
        except Exception:  # the server went away: poll until it is back
            self.close()
            stop.wait(max(deadline - time.monotonic(), 0.0))

    def _connect(self) -> Any:
        import psycopg

        conninfo = (
            make_url(self._url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
        connection.execute(_LISTEN_STATEMENT)
        return connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


# --- predictions ----------------------------------------------------------------------------


def record_predictions(rows: Sequence[dict[str, Any]], url: str | None = None) -> int:
    """Insert served forecasts in one transaction (the API batches them off the request path)."""
    if not rows:
        return 0
    with session_scope(url) as session:
        session.execute(insert(Prediction), list(rows))
    return len(rows)


def count_predictions(url: str | None = None) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(Prediction)) or 0


def recent_predictions(limit: int = 100, url: str | None = None) -> list[dict[str, Any]]:
    with session_scope(url) as session:
        rows = session.scalars(select(Prediction).order_by(Prediction.id.desc()).limit(limit))
        return [
            {
                "created_at": r.created_at,
                "request_id": r.request_id,
                "ticker": r.ticker,
                "model_version": r.model_version,
                "horizon": r.horizon,
                "values": r.values,
                "latency_ms": r.latency_ms,
            }
            for r in rows
        ]


# --- monitoring -----------------------------------------------------------------------------
# Frames in the monitoring library's shapes (stock_lstm.monitoring), which this layer may not
# import: the column names below are those of its FORECAST_COLUMNS, SCORED_COLUMNS and
# DRIFT_COLUMNS, and tests/data_pipeline/test_monitoring_crud.py checks that they agree.

SHADOW_FORECAST_COLUMNS = [
    "forecast_id",
    "source",
    "ticker",
    "origin_date",
    "model_version",
    "step",
    "close",
    "lower",
    "upper",
]
REALIZED_SCORE_COLUMNS = [
    "forecast_id",
    "source",
    "ticker",
    "model_version",
    "origin_date",
    "step",
    "target_date",
    "origin_close",
    "actual",
    "forecast",
    "lower",
    "upper",
    "error",
    "abs_error",
    "naive_error",
    "naive_abs_error",
    "inside",
]
DRIFT_RESULT_COLUMNS = [
    "ticker",
    "feature",
    "n_reference",
    "n_recent",
    "ks",
    "ks_pvalue",
    "psi",
    "flag",
]
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
        return cls(
            id=row.id,
            created_at=row.created_at,
            as_of=row.as_of,
            model_version=row.model_version,
            data_version_id=row.data_version_id,
            parameters=row.parameters,
            forecast_counts=row.forecast_counts,
        )


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


_FLOAT_SCORE_COLUMNS = [
    "origin_close",
    "actual",
    "forecast",
    "lower",
    "upper",
    "error",
    "abs_error",
    "naive_error",
    "naive_abs_error",
]


def _score_rows(scores: pd.DataFrame, run_id: int, stored: set) -> list[dict[str, Any]]:
    new = _not_stored(scores, ["source", "forecast_id", "step"], stored)
    if new.empty:
        return []
    rows = pd.DataFrame(
        {
            "source": new["source"].astype(str),
            "forecast_id": new["forecast_id"].astype(str),
            "step": new["step"].astype("int64"),
            "run_id": run_id,
            "ticker": new["ticker"].astype(str),
            "model_version": new["model_version"].astype(str),
            "origin_date": pd.to_datetime(new["origin_date"]).dt.date,
            "target_date": pd.to_datetime(new["target_date"]).dt.date,
            "inside": new["inside"].astype(bool),
            **{c: new[c].astype("float64") for c in _FLOAT_SCORE_COLUMNS},
        }
    )
    return rows.to_dict("records")  # native Python scalars (pandas boxes them)


def save_monitoring_run(
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
    url: str | None = None,
) -> MonitoringSave:
    """One monitoring run in one transaction: its row, the shadow forecasts and scored steps
    not stored yet (so rerunning a day or rescoring old forecasts adds nothing), the drift
    figures and the decisions. Lands whole or not at all."""
    _require(shadow, SHADOW_FORECAST_COLUMNS, "shadow forecasts")
    _require(scores, REALIZED_SCORE_COLUMNS, "realized scores")
    _require(drift, DRIFT_RESULT_COLUMNS, "drift")
    with session_scope(url) as session:
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


def record_decision(decision: Mapping[str, Any], url: str | None = None) -> None:
    """A decision taken outside a monitoring run (e.g. the registry's promotion)."""
    with session_scope(url) as session:
        session.add(_decision_row(decision, None))


def recent_decisions(limit: int = 20, url: str | None = None) -> list[dict[str, Any]]:
    """The newest decisions first: kind, as_of, model_version, retrain, promoted, reasons."""
    with session_scope(url) as session:
        rows = session.scalars(
            select(MonitoringDecision).order_by(MonitoringDecision.id.desc()).limit(limit)
        )
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
    model_version: str | None = None, url: str | None = None
) -> MonitoringRunInfo | None:
    """The newest run (of `model_version` when given)."""
    with session_scope(url) as session:
        query = select(MonitoringRun).order_by(MonitoringRun.id.desc()).limit(1)
        if model_version is not None:
            query = query.where(MonitoringRun.model_version == model_version)
        row = session.scalars(query).first()
        return MonitoringRunInfo.of(row) if row is not None else None


def load_drift_results(run_id: int, url: str | None = None) -> pd.DataFrame:
    """One run's drift rows (DRIFT_RESULT_COLUMNS; NULL figures come back as NaN)."""
    with session_scope(url) as session:
        rows = session.scalars(
            select(DriftResult)
            .where(DriftResult.run_id == run_id)
            .order_by(DriftResult.ticker, DriftResult.feature)
        ).all()
        frame = pd.DataFrame(
            [{c: getattr(r, c) for c in DRIFT_RESULT_COLUMNS} for r in rows],
            columns=DRIFT_RESULT_COLUMNS,
        )
    for column in ("ks", "ks_pvalue", "psi"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    frame["flag"] = frame["flag"].astype(bool)
    return frame


def load_shadow_forecasts(model_version: str | None = None, url: str | None = None) -> pd.DataFrame:
    """Stored shadow forecasts as forecast rows (SHADOW_FORECAST_COLUMNS), oldest first."""
    with session_scope(url) as session:
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
    frame["origin_date"] = pd.to_datetime(frame["origin_date"]).astype("datetime64[ns]")
    frame["step"] = frame["step"].astype("int64")
    return frame


def load_realized_scores(model_version: str | None = None, url: str | None = None) -> pd.DataFrame:
    """Stored scored steps (REALIZED_SCORE_COLUMNS), by source, ticker, origin and step."""
    with session_scope(url) as session:
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
    for column in ("origin_date", "target_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    frame["step"] = frame["step"].astype("int64")
    frame["inside"] = frame["inside"].astype(bool)
    return frame


def load_logged_forecasts(since: datetime | None = None, url: str | None = None) -> pd.DataFrame:
    """The predictions log as monitoring reads it: id, ticker, origin_date, model_version and
    values, oldest first (created at or after `since` when given)."""
    with session_scope(url) as session:
        query = select(
            Prediction.id,
            Prediction.ticker,
            Prediction.origin_date,
            Prediction.model_version,
            Prediction.values,
        ).order_by(Prediction.id)
        if since is not None:
            query = query.where(Prediction.created_at >= since)
        rows = session.execute(query).all()
    return pd.DataFrame(
        [tuple(r) for r in rows], columns=["id", "ticker", "origin_date", "model_version", "values"]
    )


def ping(url: str | None = None) -> None:
    """Raise when the database does not answer."""
    with session_scope(url) as session:
        session.execute(select(1))
