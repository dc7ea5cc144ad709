"""Tasks: who may see them, creating, listing, changing and deleting them."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.orm import Session

from ..models import Task, User, group_membership, task_groups_assigned, task_users
from . import permissions
from .errors import NotFound


def visible_to(user: User) -> ColumnElement[bool]:
    """SQL condition: the task is assigned to the user directly or through one of their groups."""
    if "task_read_all" in permissions.of(user):
        return true()
    direct = exists().where(task_users.c.task_id == Task.id, task_users.c.user_id == user.id)
    via_group = exists().where(
        task_groups_assigned.c.task_id == Task.id,
        task_groups_assigned.c.group_id == group_membership.c.group_id,
        group_membership.c.user_id == user.id,
    )
    return or_(direct, via_group)


def get_visible_or_raise(session: Session, *, task_id: int | str, user: User) -> Task:
    """The task if it exists and the user may see it; otherwise 404 (never reveal existence)."""
    try:
        task_id = int(task_id)
    except (TypeError, ValueError):
        raise NotFound(f"Task {task_id!r} does not exist", field="task") from None
    task = session.scalars(select(Task).where(Task.id == task_id, visible_to(user))).first()
    if task is None:
        raise NotFound(f"Task {task_id} does not exist", field="task")
    return task
