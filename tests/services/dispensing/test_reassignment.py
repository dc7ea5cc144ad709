"""Moving a user's open tasks to someone else in one action."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from taskmanager.models import TaskHistory
from taskmanager.services.accounts import groups
from taskmanager.services.dispensing import reassignment
from taskmanager.services.flows import task_changes
from taskmanager.services.kit.errors import Forbidden, InvalidInput
from taskmanager.services.reference import templates
from taskmanager.services.tasks import creation

from ...support.accounts import make_user


@pytest.fixture
def people(session: Any) -> dict[str, Any]:
    found = {
        "admin": make_user(session, "boss", "admin", commit=False),
        "manager": make_user(session, "manager", "superuser", commit=False),
        "leaver": make_user(session, "leaver", "user", commit=False),
        "heir": make_user(session, "heir", "user", commit=False),
        "other": make_user(session, "other", "user", commit=False),
    }
    found["team"] = groups.create(session, groupname="team", users=[found["other"]])
    templates.create(session, label="tpl", content={"template_name": "tpl"})
    session.commit()
    return found


def make(session: Any, actor: Any, **fields: Any) -> Any:
    fields.setdefault("project", "p")
    return creation.create(
        session,
        spec=creation.NewTask(template="tpl", content={"template": "tpl"}, **fields),
        actor=actor,
    )


def test_open_direct_tasks_move_to_the_user_with_history(session: Any, people: Any) -> None:
    admin, leaver, heir = people["admin"], people["leaver"], people["heir"]
    shared = make(session, admin, users=["leaver", "other"])
    solo = make(session, admin, users=["leaver"])
    done = make(session, admin, users=["leaver"])
    via_group = make(session, admin, groups=["team"])
    groups.add_member(session, group=people["team"], user=leaver)
    task_changes.set_status(session, task=done, status="done", actor=leaver)
    session.commit()

    result = reassignment.reassign_open(session, from_user=leaver, to_user=heir, actor=admin)
    session.commit()

    assert result.task_ids == [shared.id, solo.id]
    session.expire_all()
    assert sorted(u.username for u in shared.users) == ["heir", "other"]
    assert [u.username for u in solo.users] == ["heir"]
    assert [u.username for u in done.users] == ["leaver"]  # finished work keeps its owner
    assert via_group.users == [] and [g.groupname for g in via_group.groups] == ["team"]
    entry = session.scalars(
        select(TaskHistory).where(TaskHistory.task_id == solo.id, TaskHistory.action == "assign")
    ).all()[-1]
    detail = json.loads(entry.detail)
    assert entry.actor_id == admin.id
    assert detail["old"]["users"] == ["leaver"] and detail["new"]["users"] == ["heir"]


def test_tasks_move_to_a_group_and_locks_are_released(session: Any, people: Any) -> None:
    admin, leaver = people["admin"], people["leaver"]
    from taskmanager.services.dispensing import locks

    task = make(session, admin, users=["leaver"])
    locks.lock(session, task=task, actor=leaver)
    session.commit()

    result = reassignment.reassign_open(
        session, from_user=leaver, to_group=people["team"], actor=people["manager"]
    )
    session.commit()

    assert result.task_ids == [task.id] and result.released == [task.id]
    session.expire_all()
    assert task.users == [] and [g.groupname for g in task.groups] == ["team"]
    assert task.lock_id is None


def test_locks_stay_when_asked(session: Any, people: Any) -> None:
    from taskmanager.services.dispensing import locks

    task = make(session, people["admin"], users=["leaver"])
    locks.lock(session, task=task, actor=people["leaver"])
    session.commit()
    result = reassignment.reassign_open(
        session,
        from_user=people["leaver"],
        to_user=people["heir"],
        actor=people["admin"],
        release_locks=False,
    )
    session.commit()
    assert result.released == []
    session.expire_all()
    assert task.lock_id == people["leaver"].id


def test_a_user_who_already_has_the_task_is_not_added_twice(session: Any, people: Any) -> None:
    task = make(session, people["admin"], users=["leaver", "heir"])
    session.commit()
    reassignment.reassign_open(
        session, from_user=people["leaver"], to_user=people["heir"], actor=people["admin"]
    )
    session.commit()
    session.expire_all()
    assert [u.username for u in task.users] == ["heir"]


def test_refusals(session: Any, people: Any) -> None:
    leaver, heir = people["leaver"], people["heir"]
    with pytest.raises(Forbidden):
        reassignment.reassign_open(session, from_user=leaver, to_user=heir, actor=heir)
    with pytest.raises(InvalidInput):
        reassignment.reassign_open(session, from_user=leaver, actor=people["admin"])
    with pytest.raises(InvalidInput):
        reassignment.reassign_open(
            session,
            from_user=leaver,
            to_user=heir,
            to_group=people["team"],
            actor=people["admin"],
        )
    with pytest.raises(InvalidInput):
        reassignment.reassign_open(session, from_user=leaver, to_user=leaver, actor=people["admin"])
