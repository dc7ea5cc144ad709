"""reader studies and scheduling: task subject, series, priority, due, effort and wait_for;
project policies; reminders sent

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 15:30:00

Every new task column is optional or has a default, so rows written by an older server (or by a
6.6.0 client through this one) stay valid.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_tasks_project_subject": ["project", "subject"],
    "ix_tasks_project_series": ["project", "series"],
    "ix_tasks_status_lock_priority": ["status", "lock_id", "priority", "id"],
    "ix_tasks_due": ["due"],
}


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("series", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("due", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("effort", sa.Float(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("wait_for", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("wait_checked_time", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("wait_next_time", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("wait_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("wait_detail", sa.String(length=512), nullable=True))
        batch_op.add_column(
            sa.Column("dispatch_pending", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("dispatch_group_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_tasks_dispatch_group_id_groups",
            "groups",
            ["dispatch_group_id"],
            ["id"],
            ondelete="SET NULL",
        )
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    op.create_table(
        "project_policies",
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("distinct_readers", sa.Boolean(), nullable=False),
        sa.Column("washout_days", sa.Integer(), nullable=True),
        sa.Column("consistent_series", sa.Boolean(), nullable=False),
        sa.Column("max_open_per_user", sa.Integer(), nullable=True),
        sa.Column("balance_by", sa.String(length=16), nullable=False),
        sa.Column("priority_order", sa.Boolean(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_project_policies_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("project", name=op.f("pk_project_policies")),
    )
    op.create_table(
        "subject_readers",
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("last_time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_subject_readers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project", "subject", "user_id", name=op.f("pk_subject_readers")),
    )
    op.create_table(
        "series_readers",
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("series", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_series_readers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project", "series", name=op.f("pk_series_readers")),
    )
    with op.batch_alter_table("series_readers", schema=None) as batch_op:
        batch_op.create_index("ix_series_readers_user_id", ["user_id"], unique=False)
    op.create_table(
        "reminders_sent",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent_time", sa.DateTime(), nullable=False),
        sa.Column("task_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_reminders_sent_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_reminders_sent")),
    )


def downgrade() -> None:
    op.drop_table("reminders_sent")
    op.drop_table("series_readers")
    op.drop_table("subject_readers")
    op.drop_table("project_policies")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
        batch_op.drop_constraint("fk_tasks_dispatch_group_id_groups", type_="foreignkey")
        for column in (
            "dispatch_group_id",
            "dispatch_pending",
            "wait_detail",
            "wait_attempts",
            "wait_next_time",
            "wait_checked_time",
            "wait_for",
            "effort",
            "due",
            "priority",
            "series",
            "subject",
        ):
            batch_op.drop_column(column)
