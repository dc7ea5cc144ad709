"""The task rules, checked on the service layer against the real database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from taskmanager.models import (
    CallbackDelivery,
    Task,
    TaskHistory,
    User,
    utcnow,
)
from taskmanager.services.flows import task_changes

from ...support.task_factories import (
    build_world,
    make_task,
    set_meta,
)


@pytest.fixture
def admin(session) -> User:
    return session.scalars(select(User).where(User.username == "admin")).one()


def _history(session, task_id: int) -> list[tuple[str, dict | None]]:
    rows = session.execute(
        select(TaskHistory.action, TaskHistory.detail)
        .where(TaskHistory.task_id == task_id)
        .order_by(TaskHistory.id)
    )
    return [(action, json.loads(detail) if detail else None) for action, detail in rows]


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def world(session, admin):
    return build_world(session, admin)


def test_update_edits_and_records_history(session, world) -> None:
    admin = world["admin"]
    task = session.get(Task, world["tasks"][0])
    task_changes.update(
        session,
        task=task,
        changes={
            "project": "renamed",
            "content": {"a": 1},
            "callback_url": "http://cb/$X",
            "tags": ["z", "x"],
            "groups": ["team"],
            "users": [],
            "tracking_id": "ext-1",
        },
        actor=admin,
    )
    session.refresh(task)
    assert task.project == "renamed"
    assert task.raw_content == '{"a": 1}'
    assert task.raw_callback_url == "http://cb/$X"
    assert sorted(tag.name for tag in task.tags) == ["x", "z"]
    assert [g.groupname for g in task.groups] == ["team"] and task.users == []
    actions = [action for action, _ in _history(session, task.id)]
    assert actions[-2:] == ["edit", "assign"]
    edit = _history(session, task.id)[-2][1]
    assert edit["project"] == {"old": "p1", "new": "renamed"}
    assert edit["raw_content"] == {"changed": True}


def test_done_releases_lock_records_finisher_and_queues_callback(session, world) -> None:
    set_meta(session, "HOST", "http://hooks")
    alice = world["alice"]
    task = make_task(
        session, users=["alice"], callback_url="$HOST/done", callback_content={"id": 7}
    )
    task.lock_id, task.lock_time = alice.id, utcnow()
    session.flush()
    assert task_changes.mark_done(session, task=task, actor=alice) is True
    session.expire_all()
    task = session.get(Task, task.id)
    assert (task.status, task.lock_id, task.done_by_id) == ("done", None, alice.id)
    assert task.done_time is not None
    (delivery,) = session.scalars(select(CallbackDelivery)).all()
    assert (delivery.url, delivery.body, delivery.task_id) == (
        "http://hooks/done",
        '{"id": 7}',
        task.id,
    )
    actions = [action for action, _ in _history(session, task.id)]
    assert actions[-2:] == ["status", "unlock"]
    # Done again: no transition, no second callback.
    assert task_changes.mark_done(session, task=task, actor=alice) is False
    assert _count(session, CallbackDelivery) == 1


def test_other_statuses_queue_no_callback(session, world) -> None:
    task = make_task(session, callback_url="http://x/")
    assert task_changes.set_status(session, task=task, status="aborted", actor=None)
    assert task_changes.set_status(session, task=task, status="in-review", actor=None)
    assert _count(session, CallbackDelivery) == 0
    assert task.status == "in-review"
