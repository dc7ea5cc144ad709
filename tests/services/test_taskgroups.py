import json

import pytest
from sqlalchemy import select, update

from taskmanager.models import CallbackDelivery, Meta, Task, TaskGroup
from taskmanager.services import taskgroups
from taskmanager.services.errors import InvalidInput, NotFound

from ..support import rows


def _body(**extra):
    return {"project": "p", "template": "tpl", "content": {"a": 1}, **extra}


@pytest.fixture
def admin(session):
    from taskmanager.models import User

    rows.template(session)
    return session.scalars(select(User).where(User.username == "admin")).one()


def _set_status(session, task: Task, status: str, actor) -> None:
    old = task.status
    task.status = status
    session.flush()
    taskgroups.on_task_status_changed(session, task=task, old_status=old, actor=actor)


def _group_tasks(session, group: TaskGroup) -> list[Task]:
    session.expire_all()
    return list(
        session.scalars(select(Task).where(Task.taskgroup_id == group.id).order_by(Task.id))
    )


def test_create_with_same_gives_all_tasks_to_one_member(session, admin):
    a, b = rows.user(session, "a", password=None), rows.user(session, "b", password=None)
    rows.group(session, "team", [a, b])
    group = taskgroups.create(
        session, actor=admin, label="g", items=[_body(), _body()], distribute_in_group="team"
    )
    assigned = [[u.username for u in task.users] for task in _group_tasks(session, group)]
    assert assigned == [["a"], ["a"]]
    # The next group goes to b: a has had two tasks.
    second = taskgroups.create(
        session, actor=admin, label="g", items=[_body()], distribute_in_group="team"
    )
    assert [[u.username for u in t.users] for t in _group_tasks(session, second)] == [["b"]]


def test_create_with_unique_gives_each_task_another_member(session, admin):
    members = [rows.user(session, name, password=None) for name in ("a", "b", "c")]
    team = rows.group(session, "team", members)
    group = taskgroups.create(
        session,
        actor=admin,
        label="g",
        items=[_body(), _body(), _body()],
        distribute_in_group=team.id,
        distribute_method="unique",
    )
    assigned = sorted(t.users[0].username for t in _group_tasks(session, group))
    assert assigned == ["a", "b", "c"]
    with pytest.raises(InvalidInput) as refused:
        taskgroups.create(
            session,
            actor=admin,
            label="g",
            items=[_body()] * 4,
            distribute_in_group="team",
            distribute_method="unique",
        )
    assert "distribute_method" in refused.value.errors


def test_task_bodies_may_not_choose_users_under_a_group_distribution(session, admin):
    rows.group(session, "team", [rows.user(session, "a", password=None)])
    with pytest.raises(InvalidInput) as refused:
        taskgroups.create(
            session,
            actor=admin,
            label="g",
            items=[_body(), _body(users=["admin"])],
            distribute_in_group="team",
        )
    assert "tasks.1" in refused.value.errors
    with pytest.raises(NotFound):
        taskgroups.create(session, actor=admin, label="g", items=[_body()], distribute_in_group="x")


def test_status_is_derived_from_the_tasks(session, admin):
    group = taskgroups.create(session, actor=admin, label="g", items=[_body(users=["admin"])] * 2)
    first, second = _group_tasks(session, group)

    def status() -> str:
        return taskgroups.get_or_raise(session, reference=group.id, user=admin)[1]

    assert status() == "queued"
    _set_status(session, first, "done", admin)
    assert status() == "queued"
    _set_status(session, second, "done", admin)
    assert status() == "done"
    listed = taskgroups.list_visible(session, user=admin, status="done")
    assert [g.id for g, _status in listed] == [group.id]
    assert taskgroups.list_visible(session, user=admin, status="queued") == []


def test_aborting_one_task_aborts_the_unfinished_others(session, admin):
    group = taskgroups.create(session, actor=admin, label="g", items=[_body(users=["admin"])] * 3)
    first, second, third = _group_tasks(session, group)
    _set_status(session, first, "done", admin)
    _set_status(session, second, "aborted", admin)
    assert [t.status for t in _group_tasks(session, group)] == ["done", "aborted", "aborted"]
    assert taskgroups.get_or_raise(session, reference="g", user=admin)[1] == "aborted"
    entries = [
        (json.loads(d.detail), d.action)
        for d in session.scalars(
            select(taskgroups.history.TaskHistory).where(
                taskgroups.history.TaskHistory.task_id == third.id,
                taskgroups.history.TaskHistory.action == "status",
            )
        )
    ]
    assert entries == [
        ({"old": "queued", "new": "aborted", "because_of_task": second.id}, "status")
    ]


def test_callback_is_written_once_when_all_tasks_are_done(session, admin):
    session.add(Meta(label="HOST", value="http://cb.example"))
    group = taskgroups.create(
        session,
        actor=admin,
        label="g",
        callback_url="$HOST/groups/1",
        callback_content={"ok": True},
        items=[_body(users=["admin"])] * 2,
    )
    first, second = _group_tasks(session, group)
    _set_status(session, first, "done", admin)
    assert session.scalars(select(CallbackDelivery)).all() == []
    _set_status(session, second, "done", admin)
    # Reopening and finishing again does not fire a second time.
    _set_status(session, second, "queued", admin)
    _set_status(session, second, "done", admin)
    deliveries = session.scalars(select(CallbackDelivery)).all()
    assert [(d.url, d.body, d.taskgroup_id) for d in deliveries] == [
        ("http://cb.example/groups/1", '{"ok": true}', group.id)
    ]
    assert session.get(TaskGroup, group.id).callback_fired is True


def test_update_changes_fields_and_replaces_the_tasks(session, admin):
    group = taskgroups.create(session, actor=admin, label="g", items=[_body(users=["admin"])] * 2)
    first, _second = _group_tasks(session, group)
    outside = rows.tasks(session, 1, status="done")[0]
    session.execute(update(Task).where(Task.id == first.id).values(status="done"))
    taskgroups.update(
        session,
        taskgroup=group,
        actor=admin,
        changes={"label": "renamed", "tasks": [first.id, f"/api/v1/tasks/{outside}"]},
    )
    assert [t.id for t in _group_tasks(session, group)] == [first.id, outside]
    assert group.label == "renamed"
    # Both remaining tasks are done: the membership change completes the group.
    assert session.get(TaskGroup, group.id).callback_fired is True
    with pytest.raises(NotFound):
        taskgroups.update(session, taskgroup=group, actor=admin, changes={"tasks": [999999]})


def test_users_see_groups_holding_their_tasks(session, admin):
    ann = rows.user(session, "ann", password=None)
    visible = taskgroups.create(
        session, actor=admin, label="v", items=[_body(users=["ann"]), _body(users=["admin"])]
    )
    taskgroups.create(session, actor=admin, label="h", items=[_body(users=["admin"])])
    assert [g.label for g, _s in taskgroups.list_visible(session, user=ann)] == ["v"]
    group, _status = taskgroups.get_or_raise(session, reference="v", user=ann)
    assert [
        t.users[0].username for t in taskgroups.tasks_of(session, taskgroup=group, user=ann)
    ] == ["ann"]
    assert group.id == visible.id
    with pytest.raises(NotFound):
        taskgroups.get_or_raise(session, reference="h", user=ann)
