"""callback schedule to the microsecond on MariaDB

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 11:55:00

MariaDB's DATETIME keeps whole seconds, so a retry due 0.25 s after a failure was due at once.
PostgreSQL and SQLite keep microseconds already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = (("next_attempt_at", False), ("claimed_until", True))


def upgrade() -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for name, nullable in COLUMNS:
        op.alter_column(
            "callback_deliveries",
            name,
            existing_type=sa.DateTime(),
            type_=mysql.DATETIME(fsp=6),
            existing_nullable=nullable,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for name, nullable in COLUMNS:
        op.alter_column(
            "callback_deliveries",
            name,
            existing_type=mysql.DATETIME(fsp=6),
            type_=sa.DateTime(),
            existing_nullable=nullable,
        )
