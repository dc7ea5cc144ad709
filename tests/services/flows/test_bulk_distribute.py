"""Distributing tasks among a group's members (bulk action `distribute_group`): the preview runs
the real assignment and rolls it back, and applying it gives the tasks to whom it showed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from taskmanager.models import Task, TaskHistory, User
from taskmanager.services.accounts import groups
from taskmanager.services.flows import bulk_actions
from taskmanager.services.flows.bulk_actions import BulkAction, Share
from taskmanager.services.kit.errors import Forbidden, InvalidInput
from taskmanager.services.tasks import policy

from ...web.seed import World, seed

DISTRIBUTE = BulkAction("distribute_group", "panel")


@pytest.fixture
def world(session: Any) -> World:
    made = seed(session)
    groups.create(session, groupname="panel", name="Panel", users=[made.alice, made.carol])
    session.commit()
    return made


def _stored(session: Any) -> tuple[dict[str, float], list[tuple[int, str]]]:
    """The users' turns and the history rows, as stored."""
    session.expire_all()
    passes = dict(session.execute(select(User.username, User.assignment_pass)).all())
    history = list(session.execute(select(TaskHistory.task_id, TaskHistory.action)).all())
    return passes, history


def test_the_preview_shows_the_split_the_real_distribution_then_makes(
    session: Any, world: World
) -> None:
    tasks = [world.tasks[0], world.tasks[2], world.tasks[3], world.tasks[4]]
    tasks[0].effort = 3.0
    session.commit()
    ids = [task.id for task in tasks]
    before = _stored(session)
    shown = bulk_actions.preview(session, actor=world.admin, task_ids=ids, request=DISTRIBUTE)
    assert set(shown.planned) == set(ids)
    assert set(shown.planned.values()) == {"alice", "carol"}
    expected = {}
    for task in tasks:
        name = shown.planned[task.id]
        count, effort = expected.get(name, (0, 0.0))
        expected[name] = (count + 1, effort + task.effort)
    assert shown.split == [Share(name, *expected[name]) for name in sorted(expected)]
    # Nothing of the rehearsal is left: not in the session, nor stored (turns, history).
    assert [u.username for u in tasks[2].users] == ["bob"]
    assert [g.groupname for g in tasks[3].groups] == ["readers"]
    session.commit()
    assert _stored(session) == before

    message = bulk_actions.apply(session, actor=world.admin, task_ids=ids, request=DISTRIBUTE)
    session.commit()
    assert message == "4 tasks distributed among the members of panel"
    session.expire_all()
    for task in tasks:
        assert [u.username for u in task.users] == [shown.planned[task.id]]
        assert task.groups == []
    rows = session.execute(
        select(TaskHistory.task_id, TaskHistory.detail).where(
            TaskHistory.task_id.in_(ids), TaskHistory.action == "assign"
        )
    ).all()
    details = {task_id: json.loads(detail) for task_id, detail in rows}
    assert details[tasks[2].id]["old"] == {"users": ["bob"], "groups": []}
    assert details[tasks[3].id]["old"] == {"users": [], "groups": ["readers"]}
    for task in tasks:
        assert details[task.id]["new"] == {"users": [shown.planned[task.id]], "groups": []}
        assert details[task.id]["distribute_in_group"] == "panel"


def test_a_waiting_task_distributed_by_hand_is_not_handed_out_again(
    session: Any, world: World
) -> None:
    task = world.tasks[4]
    task.status, task.wait_for = "waiting", "http://pacs.example.org/17"
    task.dispatch_pending, task.dispatch_group_id = True, world.readers.id
    session.commit()
    bulk_actions.apply(session, actor=world.admin, task_ids=[task.id], request=DISTRIBUTE)
    session.commit()
    session.expire_all()
    assert (task.dispatch_pending, task.dispatch_group_id, task.status) == (
        False,
        None,
        "waiting",
    )
    assert [u.username for u in task.users][0] in ("alice", "carol")


def test_closed_tasks_and_plain_users_are_refused(session: Any, world: World) -> None:
    done = world.tasks[1]
    shown = bulk_actions.preview(
        session, actor=world.admin, task_ids=[done.id, world.tasks[0].id], request=DISTRIBUTE
    )
    assert shown.refused == [done.id] and shown.planned == {} and shown.split == []
    with pytest.raises(Forbidden):
        bulk_actions.apply(session, actor=world.admin, task_ids=[done.id], request=DISTRIBUTE)
    session.rollback()
    with pytest.raises(Forbidden):
        bulk_actions.apply(
            session, actor=world.bob, task_ids=[world.tasks[3].id], request=DISTRIBUTE
        )


def test_the_preview_and_the_distribution_keep_the_project_policy(
    session: Any, world: World
) -> None:
    """Distinct readers: two tasks of one subject go to two members; a third has nobody left,
    which the preview says as the real distribution would (and nothing is stored)."""
    # The policy first: the subject is set afterwards, so no reader has it yet in the ledger.
    policy.put(session, "brain-study", {"distinct_readers": True}, world.admin)
    in_group = session.scalars(select(Task).where(Task.taskgroup_id == world.taskgroup.id))
    tasks = [world.tasks[0], world.tasks[2], next(iter(in_group))]
    for task in tasks:
        task.subject = "case-7"
    session.commit()
    two = [tasks[0].id, tasks[1].id]
    shown = bulk_actions.preview(session, actor=world.admin, task_ids=two, request=DISTRIBUTE)
    assert sorted(shown.planned.values()) == ["alice", "carol"]
    bulk_actions.apply(session, actor=world.admin, task_ids=two, request=DISTRIBUTE)
    session.commit()
    session.expire_all()
    assert {task.id: [u.username for u in task.users] for task in tasks[:2]} == {
        task_id: [name] for task_id, name in shown.planned.items()
    }
    before = _stored(session)
    with pytest.raises(InvalidInput) as refused:
        bulk_actions.preview(session, actor=world.admin, task_ids=[tasks[2].id], request=DISTRIBUTE)
    assert refused.value.errors.keys() == {"subject"}
    assert "distinct_readers" in refused.value.message
    session.rollback()
    assert _stored(session) == before
