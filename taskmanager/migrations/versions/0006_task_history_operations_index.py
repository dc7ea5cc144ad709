"""an index for the activity feed's newest operations; history times to the microsecond on MariaDB

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 13:00:00

The feed groups history rows by (timestamp, actor, action) and shows the newest groups: with
this index the database reads them newest first and stops, instead of sorting the table.
MariaDB's DATETIME keeps whole seconds, which would make two operations by one user within a
second read as one; PostgreSQL and SQLite keep microseconds already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NAME = "ix_task_history_timestamp_actor_action"


def _on_mariadb() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    if _on_mariadb():
        op.alter_column(
            "task_history",
            "timestamp",
            existing_type=sa.DateTime(),
            type_=mysql.DATETIME(fsp=6),
            existing_nullable=False,
        )
    with op.batch_alter_table("task_history", schema=None) as batch_op:
        batch_op.create_index(NAME, ["timestamp", "actor_id", "action"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_history", schema=None) as batch_op:
        batch_op.drop_index(NAME)
    if _on_mariadb():
        op.alter_column(
            "task_history",
            "timestamp",
            existing_type=mysql.DATETIME(fsp=6),
            type_=sa.DateTime(),
            existing_nullable=False,
        )
