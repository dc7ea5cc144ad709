"""subject ledger rows by reader

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 18:40:00

A claim under distinct readers or a washout asks which subjects the claimer has read: with this
index the database reads that reader's rows instead of the whole ledger, which grows with the
study.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NAME = "ix_subject_readers_user_id_project_subject"
FOREIGN_KEY_INDEX = "fk_subject_readers_user_id_users"


def upgrade() -> None:
    with op.batch_alter_table("subject_readers", schema=None) as batch_op:
        batch_op.create_index(NAME, ["user_id", "project", "subject"], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        # MariaDB dropped the foreign key's own index when this one could serve it, and
        # refuses to drop an index a foreign key needs: give it back first.
        op.create_index(FOREIGN_KEY_INDEX, "subject_readers", ["user_id"])
    with op.batch_alter_table("subject_readers", schema=None) as batch_op:
        batch_op.drop_index(NAME)
