"""Who may see a task: the SQL conditions and the single-task lookup."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    bindparam,
    exists,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.orm import Session

from ...models import (
    Task,
    User,
    group_membership,
    task_groups_assigned,
    task_users,
)
from ..accounts import permissions
from ..kit import references
from ..kit.errors import NotFound


def visible_to(user: User) -> ColumnElement[bool]:
    """SQL condition: the task is assigned to the user directly or through one of their groups."""
    if "task_read_all" in permissions.of(user):
        return true()
    return assigned_exists(user.id)


def assigned_exists(user_id: int | BindParameter[Any]) -> ColumnElement[bool]:
    direct = exists().where(task_users.c.task_id == Task.id, task_users.c.user_id == user_id)
    via_group = exists().where(
        task_groups_assigned.c.task_id == Task.id,
        task_groups_assigned.c.group_id == group_membership.c.group_id,
        group_membership.c.user_id == user_id,
    )
    return or_(direct, via_group)


def assigned_to(user_id: int) -> ColumnElement[bool]:
    """SQL condition for lists: the task is assigned to the user directly or via a group.

    The same rule as `visible_to`, phrased as one id set so that counting and paging a user's
    tasks costs what the user has, not what the table has.
    """
    direct = select(task_users.c.task_id).where(task_users.c.user_id == user_id)
    via_group = (
        select(task_groups_assigned.c.task_id)
        .join(
            group_membership,
            group_membership.c.group_id == task_groups_assigned.c.group_id,
        )
        .where(group_membership.c.user_id == user_id)
    )
    return Task.id.in_(union(direct, via_group))


def reads_all(user: User) -> bool:
    return "task_read_all" in permissions.of(user)


@functools.cache
def _visible_task_query(all_tasks: bool) -> Select[Task]:
    """One task by id if the user may see it; built once, values bound per call."""
    query = select(Task).where(Task.id == bindparam("visible_task_id"))
    if all_tasks:
        return query
    return query.where(assigned_exists(bindparam("visible_user_id")))


def get_visible_or_raise(session: Session, *, task_id: int | str, user: User) -> Task:
    """The task if it exists and the user may see it; otherwise 404 (never reveal existence)."""
    number = references.as_id(task_id)
    if number is None:
        raise NotFound(f"Task {task_id!r} does not exist", field="task")
    query = _visible_task_query(reads_all(user))
    task = session.scalars(query, {"visible_task_id": number, "visible_user_id": user.id}).first()
    if task is None:
        raise NotFound(f"Task {number} does not exist", field="task")
    return task


# --- references: ids, names or URLs ----------------------------------------------------------
