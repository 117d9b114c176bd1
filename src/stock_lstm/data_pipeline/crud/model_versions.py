"""The model registry's table (`model_versions`) and its audit trail (`model_version_events`).

The rules (may a version be served, promote, roll back, the promotion policy, following the
champion) are data_pipeline/model_registry.py's; these are their reads and writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from stock_lstm.data_pipeline.crud.base import _from_row, _lock_stage
from stock_lstm.data_pipeline.orm_models import (
    ModelVersion,
    ModelVersionEvent,
)

REGISTRY_CHANNEL = "stock_lstm_model_registry"  # PostgreSQL NOTIFY channel of champion changes


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
    training_fingerprint: str | None = None  # common/fingerprint.py; None before migration 0006


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
    return _from_row(ModelVersionInfo, row)


def _model_row(session: Session, model_version: str) -> ModelVersion | None:
    """The row as the database has it now: `populate_existing` refreshes a copy the session
    loaded earlier in the transaction (before the registry's lock, say), so a status read
    after the lock is never stale."""
    return session.scalars(
        select(ModelVersion)
        .where(ModelVersion.model_version == model_version)
        .execution_options(populate_existing=True)
    ).first()


def record_model_version(
    session: Session,
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
    training_fingerprint: str | None = None,
) -> ModelVersionInfo:
    """Insert (a new candidate, audited) or update (re-evaluation, status kept) one model
    version's row; with `promote`, make it the champion in the same transaction. An update
    keeps the row's MLflow run id and training fingerprint unless one is given."""
    lock_registry(session)
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
    if training_fingerprint is not None:
        row.training_fingerprint = training_fingerprint
    row.serving_sha256 = serving_sha256
    session.flush()
    if created:
        _audit(session, model_version, None, "candidate", "evaluated", actor)
    if promote:
        _promote(session, row, reason=reason, actor=actor)
    return _model_info(row)


def model_version_trained_from(session: Session, fingerprint: str) -> ModelVersionInfo | None:
    """The newest version trained from these inputs (its `training_fingerprint`), or None."""
    row = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.training_fingerprint == fingerprint)
        .order_by(ModelVersion.id.desc())
        .limit(1)
    ).first()
    return _model_info(row) if row is not None else None


def set_model_version_mlflow_run(session: Session, model_version: str, mlflow_run_id: str) -> None:
    """Link a recorded model version to the MLflow run that trained it."""
    updated = session.execute(
        update(ModelVersion)
        .where(ModelVersion.model_version == model_version)
        .values(mlflow_run_id=mlflow_run_id)
    )
    if updated.rowcount == 0:
        raise LookupError(f"no model_versions row for model version {model_version}")


def get_model_version(
    session: Session, model_version: str | None = None
) -> ModelVersionInfo | None:
    """A model version's row, or the newest one when no version is named."""
    query = select(ModelVersion)
    if model_version is None:
        query = query.order_by(ModelVersion.id.desc()).limit(1)
    else:
        query = query.where(ModelVersion.model_version == model_version)
    row = session.scalars(query).first()
    return _model_info(row) if row is not None else None


def list_model_versions(
    session: Session,
) -> list[ModelVersionInfo]:
    """Every recorded model version, newest first."""
    rows = session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()))
    return [_model_info(row) for row in rows]


def champion_version(
    session: Session,
) -> str | None:
    """The version every API worker serves, or None (cheap: the workers poll it)."""
    return session.scalar(
        select(ModelVersion.model_version).where(ModelVersion.status == "champion")
    )


ROLLBACK_REASON = "rollback from {version}"  # the reason a rollback records (model_registry)


def previous_champion(
    session: Session,
) -> str | None:
    """What a rollback serves: the champion before the current one in the event log, or None.

    The champions form a stack: a promotion pushes its version, a rollback (an event whose
    reason is ROLLBACK_REASON naming the champion it replaced) pops the version it rolled back
    from. The answer is the version under the top, so repeated rollbacks walk further back
    (C -> B -> A), never back and forth between two versions."""
    events = session.execute(
        select(ModelVersionEvent.model_version, ModelVersionEvent.reason)
        .where(ModelVersionEvent.to_status == "champion")
        .order_by(ModelVersionEvent.id)
    ).all()
    stack: list[str] = []
    for version, reason in events:
        rolled_back = len(stack) >= 2 and reason == ROLLBACK_REASON.format(version=stack[-1])
        if rolled_back and stack[-2] == version:
            stack.pop()
        elif not stack or stack[-1] != version:
            stack.append(version)
    return stack[-2] if len(stack) >= 2 else None


def promote_model_version(
    session: Session, model_version: str, *, reason: str, actor: str
) -> Promotion:
    """Make `model_version` the champion (the old one retires), audited, in the caller's
    transaction (the registry's lock is held until it ends); PostgreSQL notifies every
    listening worker when it commits. Promoting the champion changes nothing."""
    lock_registry(session)
    row = _model_row(session, model_version)
    if row is None:
        raise UnknownModelVersion(f"unknown model version {model_version!r}")
    return _promote(session, row, reason=reason, actor=actor)


def registry_events(session: Session, limit: int = 200) -> list[RegistryEvent]:
    """The registry's audit trail, newest first."""
    rows = session.scalars(
        select(ModelVersionEvent).order_by(ModelVersionEvent.id.desc()).limit(limit)
    )
    return [_from_row(RegistryEvent, r) for r in rows]


def _promote(session: Session, row: ModelVersion, *, reason: str, actor: str) -> Promotion:
    current = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.status == "champion")
        .execution_options(populate_existing=True)
    ).first()
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


def lock_registry(session: Session) -> None:
    """Serialise registry changes (two promotions at once cannot both retire the same champion)."""
    _lock_stage(session, "model_registry")
