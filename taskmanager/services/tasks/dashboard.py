"""Aggregates for the dashboard: progress counted by the database (activity: `activity.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.orm import Session

from ...models import CLOSED_STATUSES, Task, TaskStatus, TaskTemplate, User
from . import visibility


@dataclass
class Progress:
    """How many tasks of one project, template or task group are in each status."""

    key: str | int
    label: str
    counts: dict[str, int] = field(default_factory=dict)
    # Tasks done since the summary's `done_since` (0 when it was not asked for).
    done_since: int = 0

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


def summary(session: Session, *, viewer: User, done_since: datetime | None = None) -> Summary:
    """Counts by status, per project and per template, from one GROUP BY over the viewer's tasks;
    with `done_since`, the same pass also counts the tasks done since then (the estimates' pace),
    so that the viewer's tasks are not looked up twice."""
    recent: ColumnElement[int] = literal(0)
    if done_since is not None:
        # COUNT of a CASE, not FILTER: MariaDB has no FILTER clause.
        recent = func.count(
            case(((Task.status == TaskStatus.DONE.value) & (Task.done_time >= done_since), Task.id))
        )
    query = (
        select(Task.project, TaskTemplate.id, TaskTemplate.label, Task.status, func.count(), recent)
        .join(TaskTemplate, TaskTemplate.id == Task.template_id)
        .where(visibility.visible_to_as_sets(session, user=viewer))
        .group_by(Task.project, TaskTemplate.id, TaskTemplate.label, Task.status)
    )
    totals: dict[str, int] = {}
    projects: dict[str, Progress] = {}
    templates: dict[int, Progress] = {}
    for project, template_id, label, status, count, done_lately in session.execute(query):
        totals[status] = totals.get(status, 0) + count
        for entry in (
            projects.setdefault(project, Progress(key=project, label=project)),
            templates.setdefault(template_id, Progress(key=template_id, label=label)),
        ):
            entry.counts[status] = entry.counts.get(status, 0) + count
            entry.done_since += done_lately or 0
    return Summary(
        totals=dict(sorted(totals.items())),
        projects=sorted(projects.values(), key=lambda entry: entry.label),
        templates=sorted(templates.values(), key=lambda entry: entry.label),
    )


def own_open_total(counted: Summary, *, viewer: User) -> int | None:
    """How many open tasks the viewer's own task table holds, when the summary counted them
    already: for a viewer who does not read all tasks, their own tasks (direct or through a
    group) are exactly the tasks they see. None for those who read all (theirs are fewer)."""
    if visibility.reads_all(viewer):
        return None
    return sum(count for status, count in counted.totals.items() if status not in CLOSED_STATUSES)
