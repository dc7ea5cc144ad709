"""The task rules, checked on the service layer against the real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from taskmanager.models import (
    Task,
    User,
)
from taskmanager.services.flows import task_changes
from taskmanager.services.tasks import details

from ...support.task_factories import (
    build_world,
)


@pytest.fixture
def admin(session) -> User:
    return session.scalars(select(User).where(User.username == "admin")).one()


@pytest.fixture
def world(session, admin):
    return build_world(session, admin)


def test_history_lists_oldest_first_with_actor(session, world) -> None:
    task = session.get(Task, world["tasks"][0])
    task_changes.set_status(session, task=task, status="done", actor=world["alice"])
    entries, total = details.list_history(session, task=task)
    assert total == len(entries) == 2
    assert [e.action for e in entries] == ["create", "status"]
    assert entries[-1].actor_username == "alice"
    assert entries[-1].detail == {"old": "queued", "new": "done"}
    entries, total = details.list_history(session, task=task, offset=1, limit=1)
    assert [e.action for e in entries] == ["status"] and total == 2
