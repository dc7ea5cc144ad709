"""site facts: fingerprints of the secrets the database was set up with

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_facts",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_site_facts")),
    )


def downgrade() -> None:
    op.drop_table("site_facts")
