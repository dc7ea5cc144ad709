"""idempotency keys: a task may carry the key its client named it by

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("idempotency_fingerprint", sa.String(length=64), nullable=True)
        )
        # Unique with NULLs allowed more than once, on SQLite, PostgreSQL and MariaDB alike.
        batch_op.create_index(
            batch_op.f("ix_tasks_idempotency_key"), ["idempotency_key"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_idempotency_key"))
        batch_op.drop_column("idempotency_fingerprint")
        batch_op.drop_column("idempotency_key")
