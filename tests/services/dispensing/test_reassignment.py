"""Moving a user's open tasks to someone else in one action."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from taskmanager.models import TaskHistory, User
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


# --- off-boarding: preview, then the move and the chosen steps in one transaction ------------


def _many(session: Any, actor: Any, count: int, **fields: Any) -> list[int]:
    specs = [
        creation.NewTask(template="tpl", content={"n": n}, project="p", **fields)
        for n in range(count)
    ]
    return [s.id for s in creation.create_many(session, specs=specs, actor=actor)]


def test_the_preview_counts_open_tasks_locks_and_groups(session: Any, people: Any) -> None:
    from taskmanager.services.dispensing import locks

    admin, leaver = people["admin"], people["leaver"]
    first, second, _third = (make(session, admin, users=["leaver"]) for _ in range(3))
    finished = make(session, admin, users=["leaver"])
    task_changes.set_status(session, task=finished, status="done", actor=leaver)
    locks.lock(session, task=first, actor=leaver)
    locks.lock(session, task=second, actor=people["other"])  # someone else's lock counts too
    groups.add_member(session, group=people["team"], user=leaver)
    session.commit()

    seen = reassignment.preview(session, user=leaver)

    assert (seen.open_tasks, seen.locks) == (3, 2)
    assert seen.last_lock_holder == "other" and seen.last_lock_time is not None
    assert seen.group_names == ["team"] and seen.active and seen.weight == 1.0
    empty = reassignment.preview(session, user=people["heir"])
    assert (empty.open_tasks, empty.locks, empty.last_lock_time, empty.group_names) == (
        0,
        0,
        None,
        [],
    )


def test_offboarding_moves_zeroes_the_weight_leaves_groups_and_deactivates(
    session: Any, people: Any
) -> None:
    admin, leaver, heir = people["admin"], people["leaver"], people["heir"]
    moved = _many(session, admin, 3, users=["leaver"])
    crew = groups.create(session, groupname="crew", users=[leaver])
    groups.add_member(session, group=people["team"], user=leaver)
    session.commit()

    done = reassignment.offboard(
        session,
        from_user=leaver,
        to_user=heir,
        actor=admin,
        steps=reassignment.Offboarding(zero_weight=True, leave_groups=True, deactivate=True),
    )
    session.commit()

    assert done.moved.task_ids == moved
    assert done.groups_left == ["crew", "team"]
    assert done.sentence == (
        "boss moved 3 tasks from leaver to heir, set leaver's weight to 0, "
        "removed leaver from 2 groups, deactivated leaver"
    )
    session.expire_all()
    assert leaver.assignment_weight == 0 and not leaver.active
    assert leaver not in crew.users and leaver not in people["team"].users
    details = [
        json.loads(row.detail)
        for row in session.scalars(
            select(TaskHistory).where(
                TaskHistory.task_id.in_(moved), TaskHistory.action == "assign"
            )
        )
    ]
    assert {d["from_user"] for d in details} == {"leaver"} and {d["to_user"] for d in details} == {
        "heir"
    }
    assert details[0]["offboarded"] == {
        "weight_zeroed": True,
        "groups_left": 2,
        "deactivated": True,
    }


def test_only_the_chosen_steps_are_taken(session: Any, people: Any) -> None:
    leaver = people["leaver"]
    make(session, people["admin"], users=["leaver"])
    groups.add_member(session, group=people["team"], user=leaver)
    session.commit()
    done = reassignment.offboard(
        session,
        from_user=leaver,
        to_group=people["team"],
        actor=people["admin"],
        steps=reassignment.Offboarding(zero_weight=True),
    )
    session.commit()
    assert done.sentence == "boss moved 1 task from leaver to group team, set leaver's weight to 0"
    session.expire_all()
    assert leaver.active and leaver in people["team"].users


def test_a_lock_taken_between_preview_and_confirm_is_released_with_the_others(
    session: Any, people: Any
) -> None:
    from taskmanager.services.dispensing import locks

    admin, leaver = people["admin"], people["leaver"]
    first = make(session, admin, users=["leaver"])
    late = make(session, admin, users=["leaver"])
    locks.lock(session, task=first, actor=leaver)
    session.commit()
    assert reassignment.preview(session, user=leaver).locks == 1
    # The leaver's client locks another task while the admin reads the preview.
    locks.lock(session, task=late, actor=leaver)
    session.commit()

    done = reassignment.offboard(
        session,
        from_user=leaver,
        to_user=people["heir"],
        actor=admin,
        steps=reassignment.Offboarding(deactivate=True),
    )
    session.commit()

    assert done.moved.task_ids == [first.id, late.id]
    assert done.moved.released == [first.id, late.id]
    session.expire_all()
    assert first.lock_id is None and late.lock_id is None and not leaver.active


def test_nothing_is_done_when_one_step_fails(
    session: Any, people: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskmanager.services.accounts import users
    from taskmanager.services.dispensing import locks
    from taskmanager.services.kit.errors import Conflict

    admin, leaver = people["admin"], people["leaver"]
    task = make(session, admin, users=["leaver"])
    locks.lock(session, task=task, actor=leaver)
    groups.add_member(session, group=people["team"], user=leaver)
    session.commit()
    history_rows = session.scalar(select(func.count()).select_from(TaskHistory))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise Conflict("the last step fails", field="user")

    # The last step fails, after the move, the weight and the groups were written.
    monkeypatch.setattr(users, "deactivate", refuse)
    with pytest.raises(Conflict):
        reassignment.offboard(
            session,
            from_user=leaver,
            to_user=people["heir"],
            actor=admin,
            steps=reassignment.Offboarding(zero_weight=True, leave_groups=True, deactivate=True),
        )
    session.rollback()

    session.expire_all()
    assert [u.username for u in task.users] == ["leaver"] and task.lock_id == leaver.id
    assert leaver.assignment_weight == 1.0 and leaver.active
    assert leaver in people["team"].users
    assert session.scalar(select(func.count()).select_from(TaskHistory)) == history_rows


def test_the_last_active_admin_is_not_deactivated_and_nothing_moves(
    session: Any, people: Any
) -> None:
    from taskmanager.services.accounts import users
    from taskmanager.services.kit.errors import Conflict

    admin = people["admin"]
    # Make `boss` the only active admin left.
    for other in session.scalars(select(User).where(User.id != admin.id)):
        if any(role.name == "admin" for role in other.roles):
            users.deactivate(session, user=other)
    task = make(session, admin, users=["boss"])
    session.commit()
    with pytest.raises(Conflict):
        reassignment.offboard(
            session,
            from_user=admin,
            to_user=people["heir"],
            actor=admin,
            steps=reassignment.Offboarding(zero_weight=True, deactivate=True),
        )
    session.rollback()
    session.expire_all()
    assert [u.username for u in task.users] == ["boss"]
    assert admin.active and admin.assignment_weight == 1.0


def test_a_step_the_actor_may_not_take_is_refused_before_anything_moves(
    session: Any, people: Any
) -> None:
    task = make(session, people["admin"], users=["leaver"])
    session.commit()
    # A superuser may move tasks and weights, but not deactivate accounts.
    with pytest.raises(Forbidden) as refused:
        reassignment.offboard(
            session,
            from_user=people["leaver"],
            to_user=people["heir"],
            actor=people["manager"],
            steps=reassignment.Offboarding(zero_weight=True, deactivate=True),
        )
    assert list(refused.value.errors) == ["deactivate"]
    session.rollback()
    session.expire_all()
    assert [u.username for u in task.users] == ["leaver"]


def test_one_move_writes_one_timestamp_however_many_chunks(session: Any, people: Any) -> None:
    admin = people["admin"]
    moved = _many(session, admin, reassignment.CHUNK + 20, users=["leaver"])
    session.commit()
    reassignment.offboard(session, from_user=people["leaver"], to_user=people["heir"], actor=admin)
    session.commit()
    stamps = session.scalars(
        select(func.count(func.distinct(TaskHistory.timestamp))).where(
            TaskHistory.task_id.in_(moved), TaskHistory.action == "assign"
        )
    ).one()
    assert stamps == 1
