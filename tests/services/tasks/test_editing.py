"""The task rules, checked on the service layer against the real database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from taskmanager.models import (
    Task,
    TaskHistory,
    User,
    task_users,
)
from taskmanager.services.flows import task_changes
from taskmanager.services.kit.errors import Forbidden, InvalidInput, NotFound
from taskmanager.services.tasks import editing

from ...support.task_factories import (
    build_world,
    make_task,
    make_template,
)

VIEWR_TEMPLATE = {
    "template_name": "viewr",
    "scans": [{"label": "T1", "modality": "MR"}, {"label": "FLAIR", "modality": "MR"}],
}


@pytest.fixture
def admin(session) -> User:
    return session.scalars(select(User).where(User.username == "admin")).one()


def test_changing_template_or_content_is_checked_too(session, admin) -> None:
    make_template(session, "plain", {"template_name": "plain"})
    make_template(session, "viewr", VIEWR_TEMPLATE)
    task = make_task(session, template="plain", content={"scan_sources": {"X": "a"}})
    with pytest.raises(InvalidInput):
        task_changes.update(session, task=task, changes={"template": "viewr"}, actor=admin)
    other = make_task(session, template="viewr", content={"name": "n"})
    with pytest.raises(InvalidInput):
        task_changes.update(
            session, task=other, changes={"content": {"scan_sources": {"T1": "a"}}}, actor=admin
        )


@pytest.fixture
def world(session, admin):
    return build_world(session, admin)


def test_field_gates_refuse_the_whole_change(session, world) -> None:
    t1 = session.get(Task, world["tasks"][0])
    alice = world["alice"]
    with pytest.raises(Forbidden) as error:
        task_changes.update(
            session, task=t1, changes={"status": "done", "project": "x"}, actor=alice
        )
    assert set(error.value.errors) == {"project"}
    with pytest.raises(Forbidden) as error:
        task_changes.update(session, task=t1, changes={"users": ["bob"]}, actor=alice)
    assert set(error.value.errors) == {"users"}
    session.refresh(t1)
    assert (t1.status, t1.project) == ("queued", "p1")


def test_user_may_set_status_of_own_task_superuser_of_any(session, world) -> None:
    t1, t2, t3, _ = (session.get(Task, i) for i in world["tasks"])
    task_changes.update(session, task=t2, changes={"status": "done"}, actor=world["alice"])
    assert t2.status == "done"
    with pytest.raises(Forbidden):
        task_changes.update(session, task=t3, changes={"status": "done"}, actor=world["alice"])
    task_changes.update(session, task=t3, changes={"status": "aborted"}, actor=world["sue"])
    assert t3.status == "aborted"
    task_changes.update(session, task=t1, changes={"users": ["bob"]}, actor=world["sue"])
    assert [u.username for u in t1.users] == ["bob"]


@pytest.mark.parametrize(
    "changes",
    [
        {"project": None},
        {"status": ""},
        {"status": "s" * 65},
        {"template": "nope"},
        {"users": ["nobody"]},
        {"tags": ["t" * 40]},
    ],
)
def test_bad_updates_change_nothing(session, world, changes) -> None:
    task = session.get(Task, world["tasks"][0])
    with pytest.raises((InvalidInput, NotFound)):
        task_changes.update(session, task=task, changes=changes, actor=world["admin"])
    session.expire_all()
    task = session.get(Task, world["tasks"][0])
    assert (task.project, task.status, [u.username for u in task.users]) == (
        "p1",
        "queued",
        ["alice"],
    )


def test_delete_removes_task_links_and_history(session, world) -> None:
    task = session.get(Task, world["tasks"][0])
    task_id = task.id
    editing.delete(session, task=task)
    session.flush()
    assert session.get(Task, task_id) is None
    assert session.scalar(select(func.count()).where(task_users.c.task_id == task_id)) == 0
    assert (
        session.scalar(
            select(func.count()).select_from(TaskHistory).where(TaskHistory.task_id == task_id)
        )
        == 0
    )
