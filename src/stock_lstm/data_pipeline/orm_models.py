"""The schema: SQLAlchemy 2.0 typed models. Alembic migrations (migrations/) create and upgrade it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class DataVersion(Base):
    """One change of a stage's table: the rows it added and the rows it closed point at it.

    The table as of a version is every row of the stage with ``valid_from <= id`` and
    ``valid_to`` null or ``> id``. ``content_hash`` identifies that table; ``hash_method`` says
    how it was computed: ``table`` (sha256 of the whole canonical CSV, the versions written
    before migration 0002) or ``tickers`` (sha256 of the per-ticker hashes, see crud).
    ``row_count`` is the table's size as of the version, ``rows_added``/``rows_closed`` the
    change itself; ``parent_id`` is the version of the stage it was derived from.
    """

    __tablename__ = "data_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stage: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    source: Mapped[str] = mapped_column(String(255), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash_method: Mapped[str] = mapped_column(String(16), nullable=False, default="tickers")
    row_count: Mapped[int] = mapped_column(Integer, nullable=False)
    rows_added: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows_closed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_versions.id", ondelete="RESTRICT"), nullable=True
    )

    __table_args__ = (Index("ix_data_versions_stage_id", "stage", "id"),)


class TickerVersion(Base):
    """A ticker's state after a version that changed it: the hash, size and date range of its
    rows, and what the change did. Unchanged tickers get no row, so a version costs only its
    changes; the newest row per ticker up to a version is the ticker's state as of that version.
    ``content_hash`` is null once the ticker is removed.
    """

    __tablename__ = "ticker_versions"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("data_versions.id", ondelete="CASCADE"), primary_key=True
    )
    ticker: Mapped[str] = mapped_column(String(32), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), nullable=False)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    row_count: Mapped[int] = mapped_column(Integer, nullable=False)
    first_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    changed_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    rows_new: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_restated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_removed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (
        Index("ix_ticker_versions_stage_ticker_version", "stage", "ticker", "version_id"),
    )


def _validity(table: str) -> tuple[Any, ...]:
    """valid_from/valid_to columns' indexes: the newest rows of one ticker by date (the API's
    path, a partial index on the open rows) and the rows a version closed or added."""
    return (
        Index(
            f"ix_{table}_open_ticker_date",
            "ticker",
            "date",
            unique=True,
            sqlite_where=text("valid_to IS NULL"),
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index(f"ix_{table}_valid_to", "valid_to"),
    )


class _Validity:
    """Each row is valid from the version that added it until the one that closed it."""

    valid_from: Mapped[int] = mapped_column(
        ForeignKey("data_versions.id", ondelete="CASCADE"), primary_key=True
    )
    valid_to: Mapped[int | None] = mapped_column(
        ForeignKey("data_versions.id", ondelete="SET NULL"), nullable=True
    )
    ticker: Mapped[str] = mapped_column(String(32), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)


class _PriceColumns(_Validity):
    """Daily bar columns shared by the raw and clean tables."""

    open: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    low: Mapped[float | None] = mapped_column(Float)
    close: Mapped[float | None] = mapped_column(Float)
    adj_close: Mapped[float | None] = mapped_column(Float)
    volume: Mapped[int | None] = mapped_column(BigInteger)


class RawPrice(_PriceColumns, Base):
    """Bars as the source returned them (missing values kept as NULL for cleaning to judge)."""

    __tablename__ = "raw_prices"
    __table_args__ = _validity("raw_prices")


class CleanPrice(_PriceColumns, Base):
    """Bars that passed cleaning."""

    __tablename__ = "clean_prices"
    __table_args__ = _validity("clean_prices")


class Feature(_Validity, Base):
    """The model's inputs, computable from a close-price history alone."""

    __tablename__ = "features"
    __table_args__ = _validity("features")

    close: Mapped[float] = mapped_column(Float, nullable=False)
    log_return: Mapped[float | None] = mapped_column(Float)


class ModelVersion(Base):
    """A trained model: its Kedro save version, the data it saw, its parameters and test metrics."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    data_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_versions.id", ondelete="RESTRICT"), nullable=True
    )
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    model_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    scaler_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    # The MLflow run that trained this version (experiment tracking); none when untracked.
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # sha256 of what the version was trained from: the features data version, the training
    # parameters and the code (common/fingerprint.py); a run with the same one trains nothing.
    training_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # The registry: `candidate` (evaluated, servable), `champion` (the one every API worker
    # serves; at most one, enforced by a partial unique index) or `retired`.
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, default="candidate", server_default="candidate"
    )
    # sha256 of every file the API loads for this version (ONNX model, scaler parameters,
    # interval calibration), by catalog name; null for versions made before the ONNX export.
    serving_sha256: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        Index(
            "uq_model_versions_one_champion",
            "status",
            unique=True,
            sqlite_where=text("status = 'champion'"),
            postgresql_where=text("status = 'champion'"),
        ),
    )


MODEL_STATUSES = ("candidate", "champion", "retired")


class ModelVersionEvent(Base):
    """The registry's audit trail: every status change of a model version, when, why, by whom
    (the API key's name, `cli`, or `evaluation`)."""

    __tablename__ = "model_version_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version: Mapped[str] = mapped_column(
        ForeignKey("model_versions.model_version", ondelete="CASCADE"), nullable=False
    )
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utc_now)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (Index("ix_model_version_events_version", "model_version"),)


class Prediction(Base):
    """Every forecast served, for monitoring and audit."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    request_id: Mapped[str | None] = mapped_column(String(64))
    ticker: Mapped[str | None] = mapped_column(String(32))
    # the date of the last close the forecast used (ticker mode), so monitoring can score it
    origin_date: Mapped[date | None] = mapped_column(Date)
    model_version: Mapped[str] = mapped_column(String(64), nullable=False)
    horizon: Mapped[int] = mapped_column(Integer, nullable=False)
    values: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    latency_ms: Mapped[float] = mapped_column(Float, nullable=False)
    # The serving worker's key for this forecast: a spool replayed after a crash stores it once.
    log_key: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        Index("ix_predictions_created_at", "created_at"),
        Index("ux_predictions_log_key", "log_key", unique=True),
        Index("ix_predictions_ticker_created_at", "ticker", "created_at"),
    )


# --- monitoring (the daily loop): results of each run, kept for the API and for audit ----------


class MonitoringRun(Base):
    """One daily monitoring run: the champion judged, as of which trading day, with what."""

    __tablename__ = "monitoring_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    model_version: Mapped[str] = mapped_column(String(64), nullable=False)
    data_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_versions.id", ondelete="RESTRICT"), nullable=True
    )
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # logged forecasts by scoring status (no_ticker: from a sent history, never scorable)
    forecast_counts: Mapped[dict[str, int]] = mapped_column(JSON, nullable=False, default=dict)

    __table_args__ = (Index("ix_monitoring_runs_model_version_as_of", "model_version", "as_of"),)


class ShadowForecast(Base):
    """The champion's forecast from one day's origin for one stored ticker, served or not."""

    __tablename__ = "shadow_forecasts"

    model_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticker: Mapped[str] = mapped_column(String(32), primary_key=True)
    origin_date: Mapped[date] = mapped_column(Date, primary_key=True)
    forecast_id: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_runs.id", ondelete="RESTRICT"), nullable=False
    )
    # [{step, close, lower, upper}], as the predictions log's values
    values: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)


class RealizedScore(Base):
    """One step of a logged or shadow forecast scored against the close that followed."""

    __tablename__ = "realized_scores"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    forecast_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_runs.id", ondelete="RESTRICT"), nullable=False
    )
    ticker: Mapped[str] = mapped_column(String(32), nullable=False)
    model_version: Mapped[str] = mapped_column(String(64), nullable=False)
    origin_date: Mapped[date] = mapped_column(Date, nullable=False)
    target_date: Mapped[date] = mapped_column(Date, nullable=False)
    origin_close: Mapped[float] = mapped_column(Float, nullable=False)
    actual: Mapped[float] = mapped_column(Float, nullable=False)
    forecast: Mapped[float] = mapped_column(Float, nullable=False)
    lower: Mapped[float] = mapped_column(Float, nullable=False)
    upper: Mapped[float] = mapped_column(Float, nullable=False)
    error: Mapped[float] = mapped_column(Float, nullable=False)
    abs_error: Mapped[float] = mapped_column(Float, nullable=False)
    naive_error: Mapped[float] = mapped_column(Float, nullable=False)
    naive_abs_error: Mapped[float] = mapped_column(Float, nullable=False)
    inside: Mapped[bool] = mapped_column(Boolean, nullable=False)

    __table_args__ = (
        Index("ix_realized_scores_model_ticker_target", "model_version", "ticker", "target_date"),
    )


class DriftResult(Base):
    """One run's drift figures of one ticker and feature (NULL figures: too little data)."""

    __tablename__ = "drift_results"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_runs.id", ondelete="CASCADE"), primary_key=True
    )
    ticker: Mapped[str] = mapped_column(String(32), primary_key=True)
    feature: Mapped[str] = mapped_column(String(32), primary_key=True)
    n_reference: Mapped[int] = mapped_column(Integer, nullable=False)
    n_recent: Mapped[int] = mapped_column(Integer, nullable=False)
    ks: Mapped[float | None] = mapped_column(Float)
    ks_pvalue: Mapped[float | None] = mapped_column(Float)
    psi: Mapped[float | None] = mapped_column(Float)
    flag: Mapped[bool] = mapped_column(Boolean, nullable=False)


class MonitoringDecision(Base):
    """A retrain or promotion decision with its reasons (every decision has one)."""

    __tablename__ = "monitoring_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitoring_runs.id", ondelete="RESTRICT"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # retrain | promotion
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    model_version: Mapped[str | None] = mapped_column(String(64))
    retrain: Mapped[bool | None] = mapped_column(Boolean)
    promoted: Mapped[bool | None] = mapped_column(Boolean)
    reasons: Mapped[list[str]] = mapped_column(JSON, nullable=False)


STAGE_MODELS: dict[str, type[RawPrice] | type[CleanPrice] | type[Feature]] = {
    "raw": RawPrice,
    "clean": CleanPrice,
    "features": Feature,
}
