import json
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from taskmanager.models import (
    CallbackDelivery,
    Meta,
    Task,
    TaskGroup,
    TaskHistory,
    TaskTemplate,
    User,
    db,
)
from taskmanager.services.flows import taskgroup_changes
from taskmanager.services.taskgroups import completion, reads

from ...support import databases
from ...support.task_factories import make_template
from ...support.taskgroups import group_tasks, set_status, task_body
from ...support.threads import run_together


def test_aborting_one_task_aborts_the_unfinished_others(session, admin):
    group = taskgroup_changes.create(
        session, actor=admin, label="g", specs=[task_body(users=["admin"])] * 3
    )
    first, second, third = group_tasks(session, group)
    set_status(session, first, "done", admin)
    set_status(session, second, "aborted", admin)
    assert [t.status for t in group_tasks(session, group)] == ["done", "aborted", "aborted"]
    assert reads.get_or_raise(session, reference="g", user=admin)[1] == "aborted"
    entries = [
        (json.loads(d.detail), d.action)
        for d in session.scalars(
            select(TaskHistory).where(
                TaskHistory.task_id == third.id,
                TaskHistory.action == "status",
            )
        )
    ]
    assert entries == [
        ({"old": "queued", "new": "aborted", "because_of_task": second.id}, "status")
    ]


def test_what_an_abort_aborts_too_is_what_it_then_aborts(session, admin):
    group = taskgroup_changes.create(
        session, actor=admin, label="g", specs=[task_body(users=["admin"])] * 4
    )
    done, chosen, other, last = group_tasks(session, group)
    set_status(session, done, "done", admin)
    alone = taskgroup_changes.create(
        session, actor=admin, label="h", specs=[task_body(users=["admin"])]
    )
    [single] = group_tasks(session, alone)

    def along(*tasks):
        query = completion.aborted_along(session, task_ids=[t.id for t in tasks])
        return [t.id for t in session.scalars(query)]

    assert along(chosen) == [other.id, last.id]
    assert along(chosen, last) == [other.id]
    assert along(single) == []
    set_status(session, chosen, "aborted", admin)
    assert [t.status for t in group_tasks(session, group)] == [
        "done",
        "aborted",
        "aborted",
        "aborted",
    ]


def test_callback_is_written_once_when_all_tasks_are_done(session, admin):
    session.add(Meta(label="HOST", value="http://cb.example"))
    group = taskgroup_changes.create(
        session,
        actor=admin,
        label="g",
        callback_url="$HOST/groups/1",
        callback_content={"ok": True},
        specs=[task_body(users=["admin"])] * 2,
    )
    first, second = group_tasks(session, group)
    set_status(session, first, "done", admin)
    assert session.scalars(select(CallbackDelivery)).all() == []
    set_status(session, second, "done", admin)
    # Reopening and finishing again does not fire a second time.
    set_status(session, second, "queued", admin)
    set_status(session, second, "done", admin)
    deliveries = session.scalars(select(CallbackDelivery)).all()
    assert [(d.url, d.body, d.taskgroup_id) for d in deliveries] == [
        ("http://cb.example/groups/1", '{"ok": true}', group.id)
    ]
    assert session.get(TaskGroup, group.id).callback_fired is True


def _race(app, group_id: int, statuses: list[str]) -> None:
    """Each of the group's tasks gets its status in its own transaction, all at the same time."""
    real = databases.backend_name() != "sqlite"
    # On a real database both status changes are written before either hook runs.
    barrier = threading.Barrier(len(statuses))

    def change(task_id: int, status: str) -> None:
        with app.app_context(), Session(db.engine) as own:
            task = own.get_one(Task, task_id)
            old, task.status = task.status, status
            own.flush()
            if real:
                barrier.wait(timeout=30)
            completion.on_task_status_changed(own, task=task, old_status=old, actor=None)
            own.commit()

    with app.app_context():
        task_ids = list(
            db.session.scalars(
                select(Task.id).where(Task.taskgroup_id == group_id).order_by(Task.id)
            )
        )
    run_together(list(zip(task_ids, statuses, strict=False)), change)


def _committed_group(app, size: int) -> int:
    with app.app_context():
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        if db.session.scalar(select(TaskTemplate.id).where(TaskTemplate.label == "tpl")) is None:
            make_template(db.session)
        group = taskgroup_changes.create(
            db.session,
            actor=admin,
            label="race",
            callback_url="http://cb",
            specs=[task_body(users=["admin"])] * size,
        )
        db.session.commit()
        return group.id


def test_tasks_finishing_at_the_same_moment_fire_the_callback_once(app) -> None:
    for _ in range(5):
        group_id = _committed_group(app, 2)
        _race(app, group_id, ["done", "done"])
        with app.app_context():
            deliveries = db.session.scalars(
                select(CallbackDelivery).where(CallbackDelivery.taskgroup_id == group_id)
            ).all()
            assert len(deliveries) == 1


def test_tasks_aborted_at_the_same_moment_abort_the_whole_group(app) -> None:
    for statuses in (["aborted", "aborted"], ["aborted", "done"], ["aborted", "aborted", "x"]):
        group_id = _committed_group(app, len(statuses) + 1)
        _race(app, group_id, statuses)
        with app.app_context():
            final = list(
                db.session.scalars(
                    select(Task.status).where(Task.taskgroup_id == group_id).order_by(Task.id)
                )
            )
        # Each raced task keeps its own new status unless an abort came later; the one task
        # nobody touched is aborted; nothing is left queued.
        assert final[-1] == "aborted"
        assert "queued" not in final
        assert final[0] == "aborted"
