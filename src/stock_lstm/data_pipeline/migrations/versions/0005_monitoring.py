"""monitoring: runs, shadow forecasts, realized scores, drift results, decisions; the
origin date of each logged prediction

Revision ID: 0005
Revises: 0001 (relinked after 0004 when the branches merge)
Create Date: 2026-11-30 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin_date", sa.Date(), nullable=True))

    op.create_table(
        "monitoring_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("data_version_id", sa.Integer(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("forecast_counts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["data_version_id"], ["data_versions.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("monitoring_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitoring_runs_model_version_as_of", ["model_version", "as_of"], unique=False
        )

    op.create_table(
        "shadow_forecasts",
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("ticker", sa.String(length=32), nullable=False),
        sa.Column("origin_date", sa.Date(), nullable=False),
        sa.Column("forecast_id", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["monitoring_runs.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("model_version", "ticker", "origin_date"),
        sa.UniqueConstraint("forecast_id"),
    )

    op.create_table(
        "realized_scores",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("forecast_id", sa.String(length=128), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("ticker", sa.String(length=32), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("origin_date", sa.Date(), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("origin_close", sa.Float(), nullable=False),
        sa.Column("actual", sa.Float(), nullable=False),
        sa.Column("forecast", sa.Float(), nullable=False),
        sa.Column("lower", sa.Float(), nullable=False),
        sa.Column("upper", sa.Float(), nullable=False),
        sa.Column("error", sa.Float(), nullable=False),
        sa.Column("abs_error", sa.Float(), nullable=False),
        sa.Column("naive_error", sa.Float(), nullable=False),
        sa.Column("naive_abs_error", sa.Float(), nullable=False),
        sa.Column("inside", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["monitoring_runs.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("source", "forecast_id", "step"),
    )
    with op.batch_alter_table("realized_scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_realized_scores_model_ticker_target",
            ["model_version", "ticker", "target_date"],
            unique=False,
        )

    op.create_table(
        "drift_results",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("ticker", sa.String(length=32), nullable=False),
        sa.Column("feature", sa.String(length=32), nullable=False),
        sa.Column("n_reference", sa.Integer(), nullable=False),
        sa.Column("n_recent", sa.Integer(), nullable=False),
        sa.Column("ks", sa.Float(), nullable=True),
        sa.Column("ks_pvalue", sa.Float(), nullable=True),
        sa.Column("psi", sa.Float(), nullable=True),
        sa.Column("flag", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["monitoring_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "ticker", "feature"),
    )

    op.create_table(
        "monitoring_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("retrain", sa.Boolean(), nullable=True),
        sa.Column("promoted", sa.Boolean(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["monitoring_runs.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("monitoring_decisions")
    op.drop_table("drift_results")
    with op.batch_alter_table("realized_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_realized_scores_model_ticker_target")
    op.drop_table("realized_scores")
    op.drop_table("shadow_forecasts")
    with op.batch_alter_table("monitoring_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_monitoring_runs_model_version_as_of")
    op.drop_table("monitoring_runs")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("origin_date")
