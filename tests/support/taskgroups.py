"""What the task-group and flow tests share: a task body, an admin with the template, status
changes the group follows, and a group's tasks read afresh."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from taskmanager.models import Task, TaskGroup, User
from taskmanager.services.taskgroups import completion
from taskmanager.services.tasks import creation

from .task_factories import make_template


def task_body(**extra: Any) -> creation.NewTask:
    return creation.NewTask(project="p", template="tpl", content={"a": 1}, **extra)


@pytest.fixture
def admin(session: Any) -> User:
    """The onboarded admin, with the template `tpl` made."""
    make_template(session)
    return session.scalars(select(User).where(User.username == "admin")).one()


def set_status(session: Any, task: Task, status: str, actor: User) -> None:
    """Change the status as the status service does, then let the group react."""
    old = task.status
    task.status = status
    session.flush()
    completion.on_task_status_changed(session, task=task, old_status=old, actor=actor)


def group_tasks(session: Any, group: TaskGroup) -> list[Task]:
    session.expire_all()
    return list(
        session.scalars(select(Task).where(Task.taskgroup_id == group.id).order_by(Task.id))
    )
