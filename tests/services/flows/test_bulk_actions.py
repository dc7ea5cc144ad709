"""One action on many tasks: all or nothing, the one-task rights, history with one timestamp."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from taskmanager.models import CallbackDelivery, Task, TaskHistory
from taskmanager.services.dispensing import locks
from taskmanager.services.flows import bulk_actions
from taskmanager.services.flows.bulk_actions import BulkAction
from taskmanager.services.kit.errors import Forbidden, InvalidInput, NotFound

from ...web.seed import World, seed


def _history(session: Any, task_ids: list[int], action: str) -> list[tuple[int, Any, Any]]:
    rows = session.execute(
        select(TaskHistory.task_id, TaskHistory.timestamp, TaskHistory.detail)
        .where(TaskHistory.task_id.in_(task_ids), TaskHistory.action == action)
        .order_by(TaskHistory.id)
    )
    return [
        (task_id, when, json.loads(detail) if detail else None) for task_id, when, detail in rows
    ]


def _statuses(session: Any, tasks: list[Task]) -> list[str]:
    ids = [task.id for task in tasks]
    found = dict(session.execute(select(Task.id, Task.status).where(Task.id.in_(ids))).all())
    return [found[task_id] for task_id in ids]


def _group_tasks(session: Any, world: World) -> list[Task]:
    query = select(Task).where(Task.taskgroup_id == world.taskgroup.id).order_by(Task.id)
    return list(session.scalars(query))


@pytest.fixture
def world(session: Any) -> World:
    return seed(session)


def test_done_for_many_tasks_is_done_for_each_as_one_task_would_be(
    session: Any, world: World
) -> None:
    locked, alices_other, bobs = world.tasks[0], world.tasks[2], world.tasks[3]
    bobs.raw_callback_url = "http://receiver.example.org/done"
    session.flush()
    deliveries = session.scalar(select(func.count()).select_from(CallbackDelivery))
    ids = [locked.id, alices_other.id, bobs.id]
    message = bulk_actions.apply(
        session, actor=world.manager, task_ids=ids, request=BulkAction("status", "done")
    )
    assert message == "3 tasks set to done"
    session.expire_all()
    for task in (locked, alices_other, bobs):
        assert (task.status, task.done_by_id) == ("done", world.manager.id)
        assert task.done_time is not None
    assert locked.lock_id is None  # done releases the lock, as for one task
    assert session.scalar(select(func.count()).select_from(CallbackDelivery)) == deliveries + 1
    status_rows = _history(session, ids, "status")
    assert [row[0] for row in status_rows] == ids
    unlock_rows = _history(session, ids, "unlock")
    assert [(row[0], row[2]["reason"]) for row in unlock_rows] == [(locked.id, "done")]
    # One action, one timestamp.
    assert len({row[1] for row in status_rows + unlock_rows}) == 1


def test_an_invisible_or_missing_task_refuses_the_whole_action(session: Any, world: World) -> None:
    bobs, groups, alices = world.tasks[3], world.tasks[4], world.tasks[0]
    with pytest.raises(NotFound) as refused:
        bulk_actions.apply(
            session,
            actor=world.bob,
            task_ids=[bobs.id, groups.id, alices.id, 999_999],
            request=BulkAction("status", "done"),
        )
    assert f"{alices.id}, 999999" in refused.value.message
    assert _statuses(session, [bobs, groups]) == ["queued", "queued"]
    assert _history(session, [bobs.id, groups.id], "status") == []
    # The tasks he sees, he may set.
    bulk_actions.apply(
        session,
        actor=world.bob,
        task_ids=[bobs.id, groups.id],
        request=BulkAction("status", "done"),
    )
    assert _statuses(session, [bobs, groups]) == ["done", "done"]


@pytest.mark.parametrize(
    ("actor", "request_"),
    [
        ("manager", BulkAction("delete")),
        ("manager", BulkAction("add_tag", "recheck")),
        ("bob", BulkAction("assign_user", "carol")),
        ("bob", BulkAction("release_lock")),
    ],
)
def test_each_task_needs_the_right_its_one_task_change_needs(
    session: Any, world: World, actor: str, request_: BulkAction
) -> None:
    acting = getattr(world, actor)
    bobs, groups = world.tasks[3], world.tasks[4]
    locks.lock(session, task=groups, actor=world.admin)
    with pytest.raises(Forbidden):
        bulk_actions.apply(session, actor=acting, task_ids=[bobs.id, groups.id], request=request_)
    shown = bulk_actions.preview(
        session, actor=acting, task_ids=[bobs.id, groups.id], request=request_
    )
    assert shown.refused and shown.locked_by == {"admin": 1}
    session.expire_all()
    assert session.get(Task, groups.id) is not None
    assert [tag.name for tag in session.get(Task, bobs.id).tags] == []


def test_bad_values_are_refused_naming_the_field(session: Any, world: World) -> None:
    ids = [world.tasks[3].id]
    for request_, kind in (
        (BulkAction("explode"), InvalidInput),
        (BulkAction("status", ""), InvalidInput),
        (BulkAction("status", "x" * 65), InvalidInput),
        (BulkAction("assign_user", "nobody-here"), NotFound),
        (BulkAction("remove_tag", "never-made"), NotFound),
    ):
        with pytest.raises(kind) as refused:
            bulk_actions.apply(session, actor=world.admin, task_ids=ids, request=request_)
        assert set(refused.value.errors) <= {"action", "value"}, refused.value.errors
    with pytest.raises(InvalidInput):
        bulk_actions.apply(session, actor=world.admin, task_ids=[], request=BulkAction("delete"))


def test_assigning_replaces_who_has_the_tasks(session: Any, world: World) -> None:
    ids = [world.tasks[3].id, world.tasks[4].id]
    message = bulk_actions.apply(
        session,
        actor=world.manager,
        task_ids=ids,
        request=BulkAction("assign_user", str(world.carol.id)),
    )
    assert message == "2 tasks assigned to carol"
    session.expire_all()
    for task_id in ids:
        task = session.get(Task, task_id)
        assert ([u.username for u in task.users], task.groups) == (["carol"], [])
    rows = _history(session, ids, "assign")
    assert [row[0] for row in rows] == ids and len({row[1] for row in rows}) == 1
    bulk_actions.apply(
        session, actor=world.manager, task_ids=ids, request=BulkAction("assign_group", "readers")
    )
    session.expire_all()
    assert [g.groupname for g in session.get(Task, ids[0]).groups] == ["readers"]


def test_tags_are_added_and_removed_where_needed(session: Any, world: World) -> None:
    tagged, plain = world.tasks[0], world.tasks[1]
    ids = [tagged.id, plain.id]
    bulk_actions.apply(
        session, actor=world.admin, task_ids=ids, request=BulkAction("add_tag", "urgent")
    )
    assert [row[0] for row in _history(session, ids, "edit")] == [plain.id]  # one had it
    bulk_actions.apply(
        session, actor=world.admin, task_ids=ids, request=BulkAction("remove_tag", "urgent")
    )
    session.expire_all()
    assert session.get(Task, tagged.id).tags == session.get(Task, plain.id).tags == []


def test_locks_are_released_and_tasks_deleted(session: Any, world: World) -> None:
    locked, free = world.tasks[0], world.tasks[2]
    ids = [locked.id, free.id]
    shown = bulk_actions.preview(
        session, actor=world.manager, task_ids=ids, request=BulkAction("release_lock")
    )
    assert (shown.locked, shown.locked_by, shown.refused) == (1, {"alice": 1}, [])
    bulk_actions.apply(
        session, actor=world.manager, task_ids=ids, request=BulkAction("release_lock")
    )
    assert [row[0] for row in _history(session, ids, "unlock")] == [locked.id]
    bulk_actions.apply(session, actor=world.admin, task_ids=ids, request=BulkAction("delete"))
    assert session.scalar(select(func.count()).select_from(Task).where(Task.id.in_(ids))) == 0


def test_aborting_a_task_of_a_group_says_and_does_what_else_it_aborts(
    session: Any, world: World
) -> None:
    first, second = _group_tasks(session, world)
    request_ = BulkAction("status", "aborted")
    shown = bulk_actions.preview(
        session, actor=world.admin, task_ids=[first.id, world.tasks[3].id], request=request_
    )
    assert [t.id for t in shown.aborted_along] == [second.id]
    # Alice does not see the group's tasks: none to abort for her, and none named.
    mine = bulk_actions.preview(
        session, actor=world.alice, task_ids=[world.tasks[0].id], request=request_
    )
    assert (mine.aborted_along, mine.aborted_along_hidden) == ([], 0)
    bulk_actions.apply(session, actor=world.admin, task_ids=[first.id], request=request_)
    assert _statuses(session, [first, second]) == ["aborted", "aborted"]
    rows = _history(session, [first.id, second.id], "status")
    assert rows[-1][2]["because_of_task"] == first.id
    assert len({row[1] for row in rows}) == 1
    # Both selected: the second is aborted along with the first, once.
    assert (
        bulk_actions.preview(
            session, actor=world.admin, task_ids=[first.id, second.id], request=request_
        ).aborted_along
        == []
    )
