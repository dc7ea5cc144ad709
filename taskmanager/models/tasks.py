"""Tasks and what hangs off them: templates, tags, task groups, assignment links, history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .accounts import Group, User
from .base import Base, PreciseUTCDateTime, UTCDateTime, utcnow
from .statuses import TaskStatus

# Longest idempotency key; within MariaDB's limit for a unique index on utf8mb4 text.
IDEMPOTENCY_KEY_MAX = 255

task_users = Table(
    "task_users",
    Base.metadata,
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_task_users_user_task", "user_id", "task_id"),
)

task_groups_assigned = Table(
    "task_groups_assigned",
    Base.metadata,
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_task_groups_assigned_group_task", "group_id", "task_id"),
)

task_tags = Table(
    "task_tags",
    Base.metadata,
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_task_tags_tag_task", "tag_id", "task_id"),
)


class TaskTemplate(Base):
    __tablename__ = "task_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(64), unique=True)
    content: Mapped[str] = mapped_column(Text)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)


class TaskGroup(Base):
    __tablename__ = "taskgroups"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(128), index=True)
    raw_callback_url: Mapped[str | None] = mapped_column(String(512))
    callback_content: Mapped[str | None] = mapped_column(Text)
    # Set in the same transaction that writes the group's callback to the outbox, once.
    callback_fired: Mapped[bool] = mapped_column(Boolean, default=False)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_id", "status", "id"),
        # Next-task claims: the oldest queued task nobody holds, without scanning held ones.
        Index("ix_tasks_status_lock_id", "status", "lock_id", "id"),
        Index("ix_tasks_project_status", "project", "status"),
        Index("ix_tasks_template_status", "template_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(64), default=TaskStatus.QUEUED.value)
    lock_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # When the lock was taken or last renewed; leases lapse relative to it.
    lock_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Content and callback URL are stored raw (with $VARS) and rendered when read.
    raw_content: Mapped[str] = mapped_column(Text)
    raw_callback_url: Mapped[str | None] = mapped_column(String(512))
    callback_content: Mapped[str | None] = mapped_column(Text)
    tracking_id: Mapped[str] = mapped_column(String(100), default="unassigned", index=True)
    generator_url: Mapped[str | None] = mapped_column(String(512))
    application_name: Mapped[str | None] = mapped_column(String(32), index=True)
    application_version: Mapped[str | None] = mapped_column(String(16))
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    template_id: Mapped[int] = mapped_column(ForeignKey("task_templates.id"))
    taskgroup_id: Mapped[int | None] = mapped_column(
        ForeignKey("taskgroups.id", ondelete="SET NULL"), index=True
    )
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    done_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the client names the task by a key (Idempotency-Key): creating it again with the
    # same key answers this task. The fingerprint (SHA-256) of the request that created it tells
    # a retry from another request reusing the key.
    idempotency_key: Mapped[str | None] = mapped_column(
        String(IDEMPOTENCY_KEY_MAX), unique=True, index=True
    )
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))

    template: Mapped[TaskTemplate] = relationship(lazy="joined", innerjoin=True)
    taskgroup: Mapped[TaskGroup | None] = relationship()
    lock: Mapped[User | None] = relationship(foreign_keys=[lock_id])
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])
    tags: Mapped[list[Tag]] = relationship(secondary=task_tags, order_by=Tag.id)
    users: Mapped[list[User]] = relationship(secondary=task_users, order_by=User.id)
    groups: Mapped[list[Group]] = relationship(secondary=task_groups_assigned, order_by=Group.id)


class TaskHistory(Base):
    """One row per create, assignment, lock, unlock, status change or edit of a task."""

    __tablename__ = "task_history"
    __table_args__ = (
        Index("ix_task_history_task_id_id", "task_id", "id"),
        # The activity feed: the newest operations (timestamp, actor, action) without a sort.
        Index("ix_task_history_timestamp_actor_action", "timestamp", "actor_id", "action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    # To the microsecond on MariaDB too: one operation's rows share a time, and two operations
    # within one second must not read as one in the activity feed.
    timestamp: Mapped[datetime] = mapped_column(PreciseUTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    # JSON text: what changed (old and new values).
    detail: Mapped[str | None] = mapped_column(Text)

    actor: Mapped[User | None] = relationship()
