"""Progress of task groups: their tasks the viewer sees, counted by status in one query."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models import Task, TaskGroup, User
from ..tasks.dashboard import Progress, visible
from . import reads


def newest_taskgroups(session: Session, *, viewer: User, limit: int) -> list[Progress]:
    """Progress of the newest task groups the viewer sees, newest first."""
    newest = (
        select(TaskGroup.id)
        .where(reads.visible_to(viewer))
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
