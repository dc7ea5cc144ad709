"""Every task of a list, a batch at a time: the rows of an export, in constant memory.

The walk goes in id order from a keyset (the last id written), so each batch costs the same
however far the export has gone, and nothing but one batch is held at once. A batch is read in
four queries: the tasks (with template label and lock holder), then their users, groups and tags.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.orm import Session

from ...models import (
    Group,
    Tag,
    Task,
    TaskTemplate,
    User,
    task_groups_assigned,
    task_tags,
    task_users,
)
from ..kit.typed_rows import as_tuples
from .export_format import COLUMNS

BATCH_SIZE = 1000


@dataclass
class ExportRow:
    """A task as an export writes it: names rather than URLs, times as ISO 8601."""

    id: int
    project: str
    template: str
    status: str
    lock: str | None
    create_time: str
    update_time: str
    tracking_id: str
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


def batches(
    session: Session,
    *,
    conditions: Sequence[ColumnElement[bool]],
    after: int | None = None,
    size: int = BATCH_SIZE,
) -> Iterator[list[ExportRow]]:
    """The tasks matching `conditions` with ids above `after`, `size` at a time in id order.

    The caller may end the session's transaction between batches (the walk keeps only the
    last id), so a slow reader holds no connection while it reads.
    """
    last = after if after is not None else 0
    while True:
        rows = session.execute(
            select(
                Task.id,
                Task.project,
                TaskTemplate.label,
                Task.status,
                User.username,
                Task.create_time,
                Task.update_time,
                Task.tracking_id,
            )
            .join(TaskTemplate, TaskTemplate.id == Task.template_id)
            .outerjoin(User, User.id == Task.lock_id)
            .where(*conditions, Task.id > last)
            .order_by(Task.id)
            .limit(size)
        )
        batch = [
            ExportRow(
                id=task_id,
                project=project,
                template=label,
                status=status,
                lock=holder,
                create_time=created.isoformat(),
                update_time=updated.isoformat(),
                tracking_id=tracking_id,
            )
            for task_id, project, label, status, holder, created, updated, tracking_id in rows
        ]
        if not batch:
            return
        _add_names(session, {row.id: row for row in batch})
        yield batch
        if len(batch) < size:
            return
        last = batch[-1].id


def _add_names(session: Session, by_id: dict[int, ExportRow]) -> None:
    """The batch's users, groups and tags, by name, in id order of each."""
    ids = list(by_id)
    links: tuple[tuple[Table, Any, Any, Any, str], ...] = (
        (task_users, task_users.c.user_id, User.id, User.username, "users"),
        (
            task_groups_assigned,
            task_groups_assigned.c.group_id,
            Group.id,
            Group.groupname,
            "groups",
        ),
        (task_tags, task_tags.c.tag_id, Tag.id, Tag.name, "tags"),
    )
    for table, link, named, name_column, attribute in links:
        task_column = table.c.task_id
        found = session.execute(
            select(task_column, name_column)
            .select_from(table)
            .join(named.class_, named == link)
            .where(task_column.in_(ids))
            .order_by(task_column, named)
        )
        for task_id, name in as_tuples(found):
            getattr(by_id[task_id], attribute).append(name)
