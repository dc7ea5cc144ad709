"""Aggregates for the dashboard: progress counted by the database, recent activity."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from ...models import Task, TaskHistory, TaskTemplate, User
from .visibility import assigned_to, reads_all


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
    return true() if reads_all(viewer) else assigned_to(viewer.id)


@dataclass
class Summary:
    """The viewer's tasks counted by status: in all, per project and per template."""

    totals: dict[str, int]
    projects: list[Progress]
    templates: list[Progress]


def summary(session: Session, *, viewer: User) -> Summary:
    """Counts by status, per project and per template, from one GROUP BY over the viewer's tasks."""
    query = (
        select(Task.project, TaskTemplate.id, TaskTemplate.label, Task.status, func.count())
        .join(TaskTemplate, TaskTemplate.id == Task.template_id)
        .where(visible(viewer))
        .group_by(Task.project, TaskTemplate.id, TaskTemplate.label, Task.status)
    )
    totals: dict[str, int] = {}
    projects: dict[str, Progress] = {}
    templates: dict[int, Progress] = {}
    for project, template_id, label, status, count in session.execute(query):
        totals[status] = totals.get(status, 0) + count
        for entry in (
            projects.setdefault(project, Progress(key=project, label=project)),
            templates.setdefault(template_id, Progress(key=template_id, label=label)),
        ):
            entry.counts[status] = entry.counts.get(status, 0) + count
    return Summary(
        totals=dict(sorted(totals.items())),
        projects=sorted(projects.values(), key=lambda entry: entry.label),
        templates=sorted(templates.values(), key=lambda entry: entry.label),
    )


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
