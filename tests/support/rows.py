"""Rows made directly through the models: users, groups, templates, tasks and task groups."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
from taskmanager.services import users

PASSWORD = "secret-pass"


def user(
    session: Session,
    username: str,
    *,
    role: str = "user",
    weight: float = 1.0,
    active: bool = True,
    password: str | None = PASSWORD,
) -> User:
    return users.create(
        session,
        username=username,
        password=password,
        email=f"{username}@example.org",
        roles=[role],
        assignment_weight=weight,
        active=active,
    )


def group(session: Session, groupname: str, members: Iterable[User] = ()) -> Group:
    created = Group(groupname=groupname, name=groupname, create_time=utcnow())
    created.users.extend(members)
    session.add(created)
    session.flush()
    return created


def template(session: Session, label: str = "tpl") -> TaskTemplate:
    existing = session.scalars(select(TaskTemplate).where(TaskTemplate.label == label)).first()
    if existing is not None:
        return existing
    created = TaskTemplate(label=label, content="{}")
    session.add(created)
    session.flush()
    return created


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
) -> list[int]:
    """Insert `count` tasks (one statement), each assigned to all `assignees` and `groups`."""
    template_id = template(session, label).id
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
