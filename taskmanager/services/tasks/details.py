"""What one task refers to (users, groups, tags) and its history, as the task pages show them."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    bindparam,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from ...models import (
    Task,
    TaskHistory,
    User,
    group_membership,
    task_groups_assigned,
    task_tags,
    task_users,
)
from ..kit import paging
from ..kit.typed_rows import as_tuples


@dataclass
class TaskLinks:
    """Ids of what a task refers to (each ordered by id)."""

    users: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    tags: list[int] = field(default_factory=list)
    users_via_group: list[int] = field(default_factory=list)


@functools.cache
def _links_query() -> CompoundSelect[Any]:
    """Built once (building SQL costs more CPU than running this one); ids bound per call."""
    ids: BindParameter[Any] = bindparam("link_task_ids", expanding=True)
    return union_all(
        select(task_users.c.task_id, literal("u"), task_users.c.user_id).where(
            task_users.c.task_id.in_(ids)
        ),
        select(task_groups_assigned.c.task_id, literal("g"), task_groups_assigned.c.group_id).where(
            task_groups_assigned.c.task_id.in_(ids)
        ),
        select(task_tags.c.task_id, literal("t"), task_tags.c.tag_id).where(
            task_tags.c.task_id.in_(ids)
        ),
        select(task_groups_assigned.c.task_id, literal("v"), group_membership.c.user_id)
        .join(group_membership, group_membership.c.group_id == task_groups_assigned.c.group_id)
        .where(task_groups_assigned.c.task_id.in_(ids)),
    )


def links(session: Session, *, task_ids: Sequence[int]) -> dict[int, TaskLinks]:
    """Assigned users and groups, tags and members of assigned groups of tasks: one query."""
    if not task_ids:
        return {}
    ids = list(task_ids)
    query = _links_query()
    result = {task_id: TaskLinks() for task_id in ids}
    slots = {"u": "users", "g": "groups", "t": "tags", "v": "users_via_group"}
    links = session.execute(query, {"link_task_ids": ids})
    for task_id, kind, ref in as_tuples(links):
        getattr(result[task_id], slots[kind]).append(ref)
    for entry in result.values():
        for name in slots.values():
            setattr(entry, name, sorted(set(getattr(entry, name))))
    return result


@dataclass
class HistoryEntry:
    id: int
    timestamp: datetime
    action: str
    actor_id: int | None
    actor_username: str | None
    detail: Any


def list_history(
    session: Session, *, task: Task, offset: int = 0, limit: int | None = None
) -> tuple[list[HistoryEntry], int]:
    """A task's history, oldest first, with the total number of entries."""
    offset, limit = paging.clamp(offset, limit, cap=paging.MAX_TASK_PAGE_SIZE)
    query = (
        select(
            TaskHistory.id,
            TaskHistory.timestamp,
            TaskHistory.action,
            TaskHistory.actor_id,
            User.username,
            TaskHistory.detail,
        )
        .outerjoin(User, User.id == TaskHistory.actor_id)
        .where(TaskHistory.task_id == task.id)
        .order_by(TaskHistory.id)
        .offset(offset)
        .limit(limit)
    )
    entries = [
        HistoryEntry(id_, ts, action, actor_id, username, json.loads(detail) if detail else None)
        for id_, ts, action, actor_id, username, detail in session.execute(query)
    ]
    total = session.scalar(
        select(func.count()).select_from(TaskHistory).where(TaskHistory.task_id == task.id)
    )
    return entries, total or 0
