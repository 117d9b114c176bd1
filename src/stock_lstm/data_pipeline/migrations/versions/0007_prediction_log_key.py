"""predictions.log_key: the key a worker gives each served forecast, unique, so replaying a
worker's spool file after a crash stores each forecast once

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("log_key", sa.String(length=40), nullable=True))
        batch_op.create_index("ux_predictions_log_key", ["log_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_index("ux_predictions_log_key")
        batch_op.drop_column("log_key")
