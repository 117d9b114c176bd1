"""model registry: model_versions.status and serving_sha256, model_version_events

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-30 17:00:00.000000

Versions recorded before this revision have no ONNX export, so the API (which serves only ONNX)
cannot serve them: they become `retired`, with an event saying why.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="candidate")
        )
        batch_op.add_column(sa.Column("serving_sha256", sa.JSON(), nullable=True))
        batch_op.create_index(
            "uq_model_versions_one_champion",
            ["status"],
            unique=True,
            sqlite_where=sa.text("status = 'champion'"),
            postgresql_where=sa.text("status = 'champion'"),
        )
    op.create_table(
        "model_version_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version"], ["model_versions.model_version"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("model_version_events", schema=None) as batch_op:
        batch_op.create_index("ix_model_version_events_version", ["model_version"], unique=False)

    versions = sa.table(
        "model_versions", sa.column("model_version", sa.String), sa.column("status", sa.String)
    )
    events = sa.table(
        "model_version_events",
        sa.column("model_version", sa.String),
        sa.column("from_status", sa.String),
        sa.column("to_status", sa.String),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("reason", sa.String),
        sa.column("actor", sa.String),
    )
    connection = op.get_bind()
    old = [row[0] for row in connection.execute(sa.select(versions.c.model_version))]
    if old:
        connection.execute(sa.update(versions).values(status="retired"))
        now = datetime.now(UTC)
        op.bulk_insert(
            events,
            [
                {
                    "model_version": version,
                    "from_status": None,
                    "to_status": "retired",
                    "at": now,
                    "reason": "recorded before the ONNX export: retrain to serve it",
                    "actor": "migration 0003",
                }
                for version in old
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("model_version_events", schema=None) as batch_op:
        batch_op.drop_index("ix_model_version_events_version")
    op.drop_table("model_version_events")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_model_versions_one_champion",
            sqlite_where=sa.text("status = 'champion'"),
            postgresql_where=sa.text("status = 'champion'"),
        )
        batch_op.drop_column("serving_sha256")
        batch_op.drop_column("status")
