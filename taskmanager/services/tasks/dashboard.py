"""Aggregates for the dashboard: progress counted by the database (activity: `activity.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models import Task, TaskTemplate, User
from . import visibility


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
        .where(visibility.visible_to_as_set(viewer))
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
