"""Many tasks at once, inserted straight through the models (one statement, no services)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from taskmanager.models import (
    Group,
    Task,
    TaskTemplate,
    User,
    task_groups_assigned,
    task_users,
    utcnow,
)

from .task_factories import make_template


def tasks(
    session: Session,
    count: int,
    *,
    assignees: Sequence[User] = (),
    groups: Sequence[Group] = (),
    project: str = "p",
    label: str = "tpl",
    status: str = "queued",
    taskgroup_id: int | None = None,
    callback_url: str | None = None,
) -> list[int]:
    """Insert `count` tasks, each assigned to all `assignees` and `groups` (with a callback to
    `callback_url` when done, if given); their ids."""
    template = session.scalars(select(TaskTemplate).where(TaskTemplate.label == label)).first()
    template_id = (template or make_template(session, label)).id
    now = utcnow()
    ids = list(
        session.scalars(
            insert(Task).returning(Task.id),
            [
                {
                    "project": project,
                    "status": status,
                    "raw_content": "{}",
                    "tracking_id": "unassigned",
                    "template_id": template_id,
                    "taskgroup_id": taskgroup_id,
                    "raw_callback_url": callback_url,
                    "callback_content": '{"done": true}' if callback_url else None,
                    "create_time": now,
                    "update_time": now,
                }
                for _ in range(count)
            ],
        )
    )
    if assignees and ids:
        session.execute(
            insert(task_users),
            [{"task_id": task_id, "user_id": a.id} for task_id in ids for a in assignees],
        )
    if groups and ids:
        session.execute(
            insert(task_groups_assigned),
            [{"task_id": task_id, "group_id": g.id} for task_id in ids for g in groups],
        )
    session.flush()
    return sorted(ids)


def task(session: Session, **fields: object) -> Task:
    task_id = tasks(session, 1, **fields)[0]  # type: ignore[arg-type]
    return session.get_one(Task, task_id)
