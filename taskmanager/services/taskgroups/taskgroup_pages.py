"""The task groups page for browsing (web UI), with each group's progress."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import (
    TaskGroup,
    User,
)
from ..kit import pages, paging
from ..kit.paging import Page
from ..tasks.dashboard import Progress
from . import reads
from .progress import progress_of_taskgroups


@dataclass
class TaskGroupRow:
    taskgroup: TaskGroup
    status: str
    progress: Progress


TASKGROUP_SORTS = ("id", "label", "create_time")


def taskgroups_page(
    session: Session,
    *,
    viewer: User,
    search: str | None = None,
    status: str | None = None,
    sort: str = "-id",
    offset: int = 0,
    limit: int = 50,
) -> Page[TaskGroupRow]:
    """Task groups the viewer sees, with their status and their tasks counted by status."""
    group_status = reads.status_expression()
    query = select(TaskGroup, group_status.label("status")).where(reads.visible_to(viewer))
    condition = pages.matches((TaskGroup.label,), search)
    if condition is not None:
        query = query.where(condition)
    if status:
        query = query.where(group_status == status)
    columns = {"id": TaskGroup.id, "label": TaskGroup.label, "create_time": TaskGroup.create_time}
    page = paging.page(
        session,
        pages.ordered(query, columns, sort, TaskGroup.id),
        offset=offset,
        limit=limit,
        scalars=False,
    )
    progress = progress_of_taskgroups(
        session, viewer=viewer, ids=[group.id for group, _ in page.items]
    )
    rows = [
        TaskGroupRow(group, group_status, progress.get(group.id) or Progress(group.id, group.label))
        for group, group_status in page.items
    ]
    return page.with_items(rows)
