"""The schema: SQLAlchemy 2.0 typed models. Alembic migrations (migrations/) create and upgrade it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
    """One immutable snapshot of a stage's table; rows of that stage point at it."""

    __tablename__ = "data_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stage: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    source: Mapped[str] = mapped_column(String(255), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    row_count: Mapped[int] = mapped_column(Integer, nullable=False)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_versions.id", ondelete="RESTRICT"), nullable=True
    )

    __table_args__ = (Index("ix_data_versions_stage_id", "stage", "id"),)


class _PriceColumns:
    """Daily bar columns shared by the raw and clean tables (one bar per version/ticker/date)."""

    version_id: Mapped[int] = mapped_column(
        ForeignKey("data_versions.id", ondelete="CASCADE"), primary_key=True
    )
    ticker: Mapped[str] = mapped_column(String(32), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    open: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    low: Mapped[float | None] = mapped_column(Float)
    close: Mapped[float | None] = mapped_column(Float)
    adj_close: Mapped[float | None] = mapped_column(Float)
    volume: Mapped[int | None] = mapped_column(BigInteger)


class RawPrice(_PriceColumns, Base):
    """Bars as the source returned them (missing values kept as NULL for cleaning to judge)."""

    __tablename__ = "raw_prices"


class CleanPrice(_PriceColumns, Base):
    """Bars that passed cleaning."""

    __tablename__ = "clean_prices"


class Feature(Base):
    """The model's inputs, computable from a close-price history alone."""

    __tablename__ = "features"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("data_versions.id", ondelete="CASCADE"), primary_key=True
    )
    ticker: Mapped[str] = mapped_column(String(32), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
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
    model_version: Mapped[str] = mapped_column(String(64), nullable=False)
    horizon: Mapped[int] = mapped_column(Integer, nullable=False)
    values: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    latency_ms: Mapped[float] = mapped_column(Float, nullable=False)

    __table_args__ = (
        Index("ix_predictions_created_at", "created_at"),
        Index("ix_predictions_ticker_created_at", "ticker", "created_at"),
    )


STAGE_MODELS: dict[str, type[RawPrice] | type[CleanPrice] | type[Feature]] = {
    "raw": RawPrice,
    "clean": CleanPrice,
    "features": Feature,
}
