"""The activity feed: one line per operation, newest first, only on tasks the viewer sees."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import insert

from taskmanager.models import TaskHistory, utcnow
from taskmanager.services.accounts import users
from taskmanager.services.dispensing import reassignment
from taskmanager.services.flows import task_changes
from taskmanager.services.tasks import activity, creation

from ...support.task_factories import make_group, make_template, make_user


@pytest.fixture
def lab(session: Any) -> SimpleNamespace:
    admin = users.get_or_raise(session, reference="admin")
    make_template(session, "tpl")
    alice, bob, carol = (make_user(session, name) for name in ("alice", "bob", "carol"))
    readers = make_group(session, "neuro-readers", [alice])
    session.commit()
    return SimpleNamespace(admin=admin, alice=alice, bob=bob, carol=carol, readers=readers)


def create(session: Any, actor: Any, count: int, project: str = "p", **fields: Any) -> list[int]:
    specs = [
        creation.NewTask(template="tpl", content={"n": n}, project=project, **fields)
        for n in range(count)
    ]
    made = [s.id for s in creation.create_many(session, specs=specs, actor=actor)]
    session.commit()
    return made


def test_a_bulk_create_of_10000_tasks_is_one_line(session: Any, lab: Any) -> None:
    made = create(session, lab.admin, 10_000, project="BRAIN-LM", users=["alice"])
    task = session.get(creation.Task, made[16])
    task_changes.set_status(session, task=task, status="done", actor=lab.alice)
    session.commit()

    feed = activity.recent(session, viewer=lab.admin)

    assert [op.sentence for op in feed] == [
        f"alice marked task {task.id} done",
        "admin created 10,000 tasks in BRAIN-LM",
    ]
    assert feed[1].count == 10_000 and feed[1].projects == ["BRAIN-LM"]
    assert [op.count for op in activity.recent(session, viewer=lab.alice)] == [1, 10_000]
    assert activity.recent(session, viewer=lab.bob) == []


def test_the_parts_link_the_actor_and_a_single_task(session: Any, lab: Any) -> None:
    [task_id] = create(session, lab.admin, 1, users=["alice"])
    [line] = activity.recent(session, viewer=lab.admin)
    assert [(p.text, p.user_id, p.task_id) for p in line.parts] == [
        ("admin", lab.admin.id, None),
        (" created ", None, None),
        (f"task {task_id}", None, task_id),
        (" in p", None, None),
    ]


def test_a_move_is_one_line_naming_both_sides_and_the_off_boarding(session: Any, lab: Any) -> None:
    create(session, lab.admin, reassignment.CHUNK + 13, users=["bob"])
    reassignment.offboard(
        session,
        from_user=lab.bob,
        to_user=lab.carol,
        actor=lab.admin,
        steps=reassignment.Offboarding(zero_weight=True, deactivate=True),
    )
    session.commit()
    newest = activity.recent(session, viewer=lab.admin)[0]
    assert newest.sentence == (
        "admin moved 513 tasks from bob to carol, set bob's weight to 0, deactivated bob"
    )
    assert newest.count == reassignment.CHUNK + 13


def test_a_plain_user_sees_only_activity_on_their_tasks_counted_as_they_see_it(
    session: Any, lab: Any
) -> None:
    specs = [
        creation.NewTask(template="tpl", content={}, project="p", users=["alice"]),
        creation.NewTask(template="tpl", content={}, project="p", groups=["neuro-readers"]),
        creation.NewTask(template="tpl", content={}, project="q", users=["bob"]),
    ]
    creation.create_many(session, specs=specs, actor=lab.admin)
    session.commit()
    assert [op.sentence for op in activity.recent(session, viewer=lab.admin)] == [
        "admin created 3 tasks"  # two projects: none named
    ]
    [alices] = activity.recent(session, viewer=lab.alice)
    assert (alices.sentence, alices.count) == ("admin created 2 tasks in p", 2)
    assert len(activity.tasks_of(session, viewer=lab.alice, operation=alices)) == 2
    [bobs] = activity.recent(session, viewer=lab.bob)
    assert bobs.sentence == f"admin created task {bobs.task_id} in q"
    assert activity.recent(session, viewer=lab.carol) == []


def test_filters_narrow_to_a_project_and_to_an_actor(session: Any, lab: Any) -> None:
    first = create(session, lab.admin, 2, project="p", users=["alice"])
    create(session, lab.admin, 2, project="q", users=["alice"])
    task = session.get(creation.Task, first[0])
    task_changes.set_status(session, task=task, status="done", actor=lab.alice)
    session.commit()

    def sentences(**filters: Any) -> list[str]:
        chosen = activity.Filters(**filters)
        return [op.sentence for op in activity.recent(session, viewer=lab.admin, filters=chosen)]

    assert sentences(project="q") == ["admin created 2 tasks in q"]
    assert sentences(project="p") == [
        f"alice marked task {task.id} done",
        "admin created 2 tasks in p",
    ]
    assert sentences(actor=lab.alice) == [f"alice marked task {task.id} done"]
    assert sentences(project="q", actor=lab.alice) == []


def test_the_newest_operations_come_first_and_the_limit_counts_operations(
    session: Any, lab: Any
) -> None:
    made = create(session, lab.admin, 6, users=["alice"])
    for task_id in made:
        task = session.get(creation.Task, task_id)
        task_changes.set_status(session, task=task, status="done", actor=lab.alice)
        session.commit()
    feed = activity.recent(session, viewer=lab.admin, limit=3)
    assert [op.task_id for op in feed] == made[-1:-4:-1]
    assert all(op.sentence.startswith("alice marked task") for op in feed)


def test_only_whole_operations_are_shown_at_the_oldest_timestamp(session: Any, lab: Any) -> None:
    """Operations sharing the oldest time shown are counted only when they are among the N."""
    made = create(session, lab.admin, 3, users=["alice"])
    base = utcnow() + timedelta(hours=1)
    older, newer = base, base + timedelta(seconds=5)
    rows = [
        {"task_id": made[0], "actor_id": lab.alice.id, "action": "edit", "timestamp": newer},
        *(
            {"task_id": tid, "actor_id": lab.bob.id, "action": "edit", "timestamp": older}
            for tid in made
        ),
        {"task_id": made[1], "actor_id": lab.alice.id, "action": "edit", "timestamp": older},
    ]
    session.execute(insert(TaskHistory), rows)
    session.commit()

    feed = activity.recent(session, viewer=lab.admin, limit=2)

    assert len(feed) == 2
    assert (feed[0].actor_username, feed[0].count) == ("alice", 1)
    # The second is one of the two operations at the older time, whole and alone.
    assert (feed[1].actor_username, feed[1].count) in {("alice", 1), ("bob", 3)}
    assert abs(feed[1].timestamp - older) < timedelta(seconds=1)


def test_the_server_as_actor_is_one_operation_too(session: Any, lab: Any) -> None:
    made = create(session, None, 4, users=["alice"])
    [line] = activity.recent(session, viewer=lab.admin)
    assert line.sentence == "the server created 4 tasks in p" and line.actor_id is None
    assert activity.tasks_of(session, viewer=lab.admin, operation=line) == made


def test_a_task_group_made_with_its_tasks_is_one_line(session: Any, lab: Any) -> None:
    from taskmanager.services.flows import taskgroup_changes

    taskgroup_changes.create(
        session,
        actor=lab.admin,
        label="batch",
        specs=[
            creation.NewTask(project="p", template="tpl", content={"n": n}, users=["alice"])
            for n in range(3)
        ],
    )
    session.commit()
    assert [op.sentence for op in activity.recent(session, viewer=lab.admin)] == [
        "admin created 3 tasks in p"
    ]
