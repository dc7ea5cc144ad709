import pytest
from sqlalchemy import update

from taskmanager.models import (
    Task,
    TaskGroup,
)
from taskmanager.services.flows import taskgroup_changes
from taskmanager.services.kit.errors import InvalidInput, NotFound

from ...support import rows
from ...support.task_factories import make_group, make_user
from ...support.taskgroups import group_tasks, task_body


def test_create_with_same_gives_all_tasks_to_one_member(session, admin):
    a, b = make_user(session, "a"), make_user(session, "b")
    make_group(session, "team", [a, b])
    group = taskgroup_changes.create(
        session,
        actor=admin,
        label="g",
        specs=[task_body(), task_body()],
        distribute_in_group="team",
    )
    assigned = [[u.username for u in task.users] for task in group_tasks(session, group)]
    assert assigned == [["a"], ["a"]]
    # The next group goes to b: a has had two tasks.
    second = taskgroup_changes.create(
        session, actor=admin, label="g", specs=[task_body()], distribute_in_group="team"
    )
    assert [[u.username for u in t.users] for t in group_tasks(session, second)] == [["b"]]


def test_create_with_unique_gives_each_task_another_member(session, admin):
    members = [make_user(session, name) for name in ("a", "b", "c")]
    team = make_group(session, "team", members)
    group = taskgroup_changes.create(
        session,
        actor=admin,
        label="g",
        specs=[task_body(), task_body(), task_body()],
        distribute_in_group=team.id,
        distribute_method="unique",
    )
    assigned = sorted(t.users[0].username for t in group_tasks(session, group))
    assert assigned == ["a", "b", "c"]
    with pytest.raises(InvalidInput) as refused:
        taskgroup_changes.create(
            session,
            actor=admin,
            label="g",
            specs=[task_body()] * 4,
            distribute_in_group="team",
            distribute_method="unique",
        )
    assert "distribute_method" in refused.value.errors


def test_task_bodies_may_not_choose_users_under_a_group_distribution(session, admin):
    make_group(session, "team", [make_user(session, "a")])
    with pytest.raises(InvalidInput) as refused:
        taskgroup_changes.create(
            session,
            actor=admin,
            label="g",
            specs=[task_body(), task_body(users=["admin"])],
            distribute_in_group="team",
        )
    assert "tasks.1" in refused.value.errors
    with pytest.raises(NotFound):
        taskgroup_changes.create(
            session, actor=admin, label="g", specs=[task_body()], distribute_in_group="x"
        )


def test_update_changes_fields_and_replaces_the_tasks(session, admin):
    group = taskgroup_changes.create(
        session, actor=admin, label="g", specs=[task_body(users=["admin"])] * 2
    )
    first, _second = group_tasks(session, group)
    outside = rows.tasks(session, 1, status="done")[0]
    session.execute(update(Task).where(Task.id == first.id).values(status="done"))
    taskgroup_changes.update(
        session,
        taskgroup=group,
        actor=admin,
        changes={"label": "renamed", "tasks": [first.id, f"/api/v1/tasks/{outside}"]},
    )
    assert [t.id for t in group_tasks(session, group)] == [first.id, outside]
    assert group.label == "renamed"
    # Both remaining tasks are done: the membership change completes the group.
    assert session.get(TaskGroup, group.id).callback_fired is True
    with pytest.raises(NotFound):
        taskgroup_changes.update(session, taskgroup=group, actor=admin, changes={"tasks": [999999]})
