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
