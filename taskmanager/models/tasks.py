"""Tasks and what hangs off them: templates, tags, task groups, assignment links, history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
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
# Longest subject or series key (indexed with the project).
SCHEDULING_KEY_MAX = 128

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
        # Reader rules look up a subject's or a series' other tasks.
        Index("ix_tasks_project_subject", "project", "subject"),
        Index("ix_tasks_project_series", "project", "series"),
        # Claims in priority order: the free queued tasks, most urgent first.
        Index("ix_tasks_status_lock_priority", "status", "lock_id", "priority", "id"),
        Index("ix_tasks_due", "due"),
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
    # Scheduling (all optional; a 6.6.0 client never sees or sends them). `subject` is the case
    # or patient; `series` the key whose tasks go to one reader; higher `priority` first.
    subject: Mapped[str | None] = mapped_column(String(SCHEDULING_KEY_MAX))
    series: Mapped[str | None] = mapped_column(String(SCHEDULING_KEY_MAX))
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    effort: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    # A task whose data is not there yet is `waiting` until a GET of this URL answers 2xx.
    wait_for: Mapped[str | None] = mapped_column(String(1024))
    wait_checked_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_next_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Why it still waits (the last check's answer), for GET ?status=waiting.
    wait_detail: Mapped[str | None] = mapped_column(String(512))
    # The automatic assignment it gets once its data arrived: among this group's members, or
    # among all users when `dispatch_pending` without a group.
    dispatch_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    dispatch_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL")
    )

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


class ProjectPolicy(Base):
    """How a project's tasks are handed out: reader rules, caps, balance and order.

    A project without a row has no rules (tasks go as they always did).
    """

    __tablename__ = "project_policies"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A reader never gets two tasks of one subject.
    distinct_readers: Mapped[bool] = mapped_column(Boolean, default=False)
    # (Without distinct_readers) the same subject again only this many days after the last one.
    washout_days: Mapped[int | None] = mapped_column(Integer)
    # Every task of a series goes to the reader who got its first one.
    consistent_series: Mapped[bool] = mapped_column(Boolean, default=False)
    # A reader holding this many open tasks of the project gets no more.
    max_open_per_user: Mapped[int | None] = mapped_column(Integer)
    # Weighted assignment counts tasks or their effort.
    balance_by: Mapped[str] = mapped_column(String(16), default="count")
    # Claims and lists go by priority (desc), then due date, then id.
    priority_order: Mapped[bool] = mapped_column(Boolean, default=False)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class SubjectReader(Base):
    """A reader got a task of this subject (by assignment or claim), last at `last_time`.

    The primary key decides between concurrent requests: a reader is recorded for a subject
    once, and a second task of it is refused (distinct_readers) or allowed only by a conditional
    update of `last_time` (washout_days).
    """

    __tablename__ = "subject_readers"
    # A claim reads the subjects its claimer has had: their rows, not the whole ledger.
    __table_args__ = (
        Index("ix_subject_readers_user_id_project_subject", "user_id", "project", "subject"),
    )

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(SCHEDULING_KEY_MAX), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    last_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SeriesReader(Base):
    """The reader a series belongs to: the first to get one of its tasks (consistent_series).

    One row per series: of two requests giving out a new series at once, one inserts it and
    the other finds it taken.
    """

    __tablename__ = "series_readers"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    series: Mapped[str] = mapped_column(String(SCHEDULING_KEY_MAX), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReminderSent(Base):
    """One digest mail per user and day: the primary key makes a second one impossible."""

    __tablename__ = "reminders_sent"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    task_count: Mapped[int] = mapped_column(Integer, default=0)
