"""What the lock and claim tests share: three people, a task's history, a lock made older."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from taskmanager.models import Task, TaskHistory, User, utcnow

from .task_factories import make_user


@pytest.fixture
def people(session: Any) -> dict[str, User]:
    return {
        "ann": make_user(session, "ann"),
        "bob": make_user(session, "bob"),
        "sue": make_user(session, "sue", roles=["superuser"]),
    }


def history(session: Any, task_id: int) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(action, actor's username, detail) of each history entry, oldest first."""
    entries = session.scalars(
        select(TaskHistory).where(TaskHistory.task_id == task_id).order_by(TaskHistory.id)
    )
    return [(e.action, e.actor.username, json.loads(e.detail or "{}")) for e in entries]


def age_lock(session: Any, task: Task, seconds: float) -> None:
    """Make the task's lock `seconds` older (as if taken that long ago)."""
    session.execute(
        update(Task)
        .where(Task.id == task.id)
        .values(lock_time=utcnow() - timedelta(seconds=seconds))
    )
    session.expire(task)
