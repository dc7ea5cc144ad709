"""Aggregates for the dashboard: progress counted by the database, recent activity."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from ..models import Task, TaskGroup, TaskHistory, TaskTemplate, User
from . import taskgroups, tasks

Dimension = Literal["project", "template"]


@dataclass
class Progress:
    """How many tasks of one project, template or task group are in each status."""

    key: str | int
    label: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)


@dataclass
class Activity:
    id: int
    timestamp: datetime
    action: str
    task_id: int
    project: str
    actor_id: int | None
    actor_username: str | None
    detail: Any


def visible(viewer: User) -> ColumnElement[bool]:
    """SQL condition for aggregates: the tasks the viewer sees (the visibility rule of
    services.tasks), as one id set for viewers who do not read all, so the cost follows what the
    viewer has rather than the size of the table."""
    return true() if tasks.reads_all(viewer) else tasks.assigned_to(viewer.id)


def progress(session: Session, *, viewer: User, by: Dimension) -> list[Progress]:
    """Task counts by status per project or template (by name), of the tasks the viewer sees."""
    key: Any
    label: Any
    if by == "project":
        key, label = Task.project, Task.project
        query = select(key, label, Task.status, func.count()).select_from(Task)
    elif by == "template":
        key, label = TaskTemplate.id, TaskTemplate.label
        query = select(key, label, Task.status, func.count()).join(
            TaskTemplate, TaskTemplate.id == Task.template_id
        )
    else:
        raise ValueError(f"unknown dimension {by!r}")
    query = query.where(visible(viewer)).group_by(key, label, Task.status)
    rows: dict[Any, Progress] = {}
    for row_key, row_label, status, count in session.execute(query):
        rows.setdefault(row_key, Progress(key=row_key, label=str(row_label))).counts[status] = count
    return sorted(rows.values(), key=lambda entry: entry.label)


def newest_taskgroups(session: Session, *, viewer: User, limit: int) -> list[Progress]:
    """Progress of the newest task groups the viewer sees, newest first."""
    newest = (
        select(TaskGroup.id)
        .where(taskgroups.visible_to(viewer))
        .order_by(TaskGroup.id.desc())
        .limit(limit)
    )
    ids = list(session.scalars(newest))
    found = progress_of_taskgroups(session, viewer=viewer, ids=ids)
    return [found[group_id] for group_id in ids if group_id in found]


def progress_of_taskgroups(
    session: Session, *, viewer: User, ids: list[int]
) -> dict[int, Progress]:
    """Task counts by status of the given task groups (their tasks the viewer sees), by id."""
    if not ids:
        return {}
    query = (
        select(TaskGroup.id, TaskGroup.label, Task.status, func.count())
        .join(Task, Task.taskgroup_id == TaskGroup.id)
        .where(TaskGroup.id.in_(ids), visible(viewer))
        .group_by(TaskGroup.id, TaskGroup.label, Task.status)
    )
    found: dict[int, Progress] = {}
    for group_id, label, status, count in session.execute(query):
        found.setdefault(group_id, Progress(key=group_id, label=label)).counts[status] = count
    return found


def status_totals(session: Session, *, viewer: User) -> dict[str, int]:
    """The number of tasks in each status, of those the viewer sees."""
    query = (
        select(Task.status, func.count())
        .where(visible(viewer))
        .group_by(Task.status)
        .order_by(Task.status)
    )
    return {status: count for status, count in session.execute(query)}


def recent_activity(session: Session, *, viewer: User, limit: int = 15) -> list[Activity]:
    """The newest task history entries on tasks the viewer sees, newest first."""
    query = (
        select(
            TaskHistory.id,
            TaskHistory.timestamp,
            TaskHistory.action,
            TaskHistory.task_id,
            Task.project,
            TaskHistory.actor_id,
            User.username,
            TaskHistory.detail,
        )
        .join(Task, Task.id == TaskHistory.task_id)
        .outerjoin(User, User.id == TaskHistory.actor_id)
        .where(visible(viewer))
        .order_by(TaskHistory.id.desc())
        .limit(limit)
    )
    return [
        Activity(id_, ts, action, task_id, project, actor_id, username, _detail(detail))
        for id_, ts, action, task_id, project, actor_id, username, detail in session.execute(query)
    ]


def _detail(text: str | None) -> Mapping[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}
