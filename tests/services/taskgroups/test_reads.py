import pytest

from taskmanager.models import (
    Tag,
    Task,
)
from taskmanager.services.flows import taskgroup_changes
from taskmanager.services.kit.errors import NotFound
from taskmanager.services.taskgroups import reads

from ...support.task_factories import make_user
from ...support.taskgroups import group_tasks, set_status, task_body


def test_status_is_derived_from_the_tasks(session, admin):
    group = taskgroup_changes.create(
        session, actor=admin, label="g", specs=[task_body(users=["admin"])] * 2
    )
    first, second = group_tasks(session, group)

    def status() -> str:
        return reads.get_or_raise(session, reference=group.id, user=admin)[1]

    assert status() == "queued"
    set_status(session, first, "done", admin)
    assert status() == "queued"
    set_status(session, second, "done", admin)
    assert status() == "done"
    listed = reads.list_visible(session, user=admin, status="done")
    assert [g.id for g, _status in listed] == [group.id]
    assert reads.list_visible(session, user=admin, status="queued") == []


def test_users_see_groups_holding_their_tasks(session, admin):
    ann = make_user(session, "ann")
    visible = taskgroup_changes.create(
        session,
        actor=admin,
        label="v",
        specs=[task_body(users=["ann"]), task_body(users=["admin"])],
    )
    taskgroup_changes.create(session, actor=admin, label="h", specs=[task_body(users=["admin"])])
    assert [g.label for g, _s in reads.list_visible(session, user=ann)] == ["v"]
    group, _status = reads.get_or_raise(session, reference="v", user=ann)
    assert group.id == visible.id
    seen = reads.tasks_of(session, taskgroup=group, user=ann)
    assert [session.get(Task, row.id).users[0].username for row in seen] == ["ann"]
    tagged = session.get(Task, seen[0].id)
    tagged.tags.append(Tag(name="t"))
    session.flush()
    assert reads.tasks_of(session, taskgroup=group, user=ann)[0].tags == [(tagged.tags[0].id, "t")]
    with pytest.raises(NotFound):
        reads.get_or_raise(session, reference="h", user=ann)
