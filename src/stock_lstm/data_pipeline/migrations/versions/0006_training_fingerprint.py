"""model_versions.training_fingerprint: what a version was trained from (data version, training
parameters, code), so a run with the same inputs trains nothing

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("training_fingerprint", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_model_versions_training_fingerprint", ["training_fingerprint"])


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_model_versions_training_fingerprint")
        batch_op.drop_column("training_fingerprint")
