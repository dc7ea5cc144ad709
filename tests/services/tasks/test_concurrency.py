"""Races decided by the database: concurrent requests for the same change make it once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from taskmanager.models import CallbackDelivery, Tag, Task, TaskHistory, User, db
from taskmanager.services.dispensing import locks
from taskmanager.services.flows import task_changes
from taskmanager.services.kit.errors import NotFound
from taskmanager.services.tasks import creation, editing, visibility

from ...support.databases import backend_name
from ...support.task_factories import make_task, make_template, make_user

RACERS = 4


def _race(app: Any, work: Callable[[Any], Any]) -> list[Any]:
    """Run `work(session)` in RACERS threads, each with its own session, released together."""
    barrier = threading.Barrier(RACERS)
    results: list[Any] = [None] * RACERS

    def run(index: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                results[index] = work(db.session)
                db.session.commit()
            except Exception as exc:  # reported below, with the thread's index
                db.session.rollback()
                results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_concurrent_done_makes_one_transition_and_one_callback(app) -> None:
    with app.app_context():
        make_template(db.session, "tpl")
        make_user(db.session, "alice")
        task_id = make_task(db.session, users=["alice"], callback_url="http://cb/").id
        db.session.commit()

    def finish(session: Any) -> bool:
        alice = session.scalars(select(User).where(User.username == "alice")).one()
        task = visibility.get_visible_or_raise(session, task_id=task_id, user=alice)
        return task_changes.mark_done(session, task=task, actor=alice)

    results = _race(app, finish)
    assert sorted(results, key=str) == [False] * (RACERS - 1) + [True], results
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CallbackDelivery)) == 1
        transitions = db.session.scalar(
            select(func.count())
            .select_from(TaskHistory)
            .where(TaskHistory.task_id == task_id, TaskHistory.action == "status")
        )
        assert transitions == 1


def test_concurrent_creates_share_new_tags(app) -> None:
    with app.app_context():
        make_template(db.session, "tpl")
        db.session.commit()

    def create(session: Any) -> int:
        spec = creation.NewTask(
            project="p", template="tpl", content="x", users=["admin"], tags=["new", "fresh"]
        )
        return len(creation.create_many(session, specs=[spec], actor=None))

    assert _race(app, create) == [1] * RACERS
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Tag)) == 2


def test_concurrent_creates_with_the_same_keys_make_each_task_once(app) -> None:
    with app.app_context():
        make_template(db.session, "tpl")
        db.session.commit()

    def create(session: Any) -> list[tuple[int, bool]]:
        specs = [
            creation.NewTask(
                project="p",
                template="tpl",
                content=f"c{n}",
                users=["admin"],
                tags=["keyed"],
                idempotency_key=f"race/{n}",
            )
            for n in range(50)
        ]
        return [
            (s.id, s.already_present)
            for s in creation.create_many(session, specs=specs, actor=None)
        ]

    results = _race(app, create)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({tuple(task_id for task_id, _present in result) for result in results}) == 1
    # Each task was created by one racer; the others answered it as already present.
    for n in range(50):
        assert sorted(result[n][1] for result in results) == [False] + [True] * (RACERS - 1)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Task)) == 50
        assert db.session.scalar(select(func.count()).select_from(TaskHistory)) == 50


# A change read the task, then another request deleted it: the change answers NotFound (404),
# never the ORM's StaleDataError or ObjectDeletedError (500).
_CHANGES: list[tuple[str, Callable[[Any, Any, Any], Any]]] = [
    (
        "edit",
        lambda s, task, who: task_changes.update(s, task=task, changes={"project": "q"}, actor=who),
    ),
    (
        "reassign",
        lambda s, task, who: task_changes.update(
            s, task=task, changes={"users": ["bob"]}, actor=who
        ),
    ),
    (
        "tags",
        lambda s, task, who: task_changes.update(s, task=task, changes={"tags": ["t"]}, actor=who),
    ),
    (
        "status",
        lambda s, task, who: task_changes.update(
            s, task=task, changes={"status": "done"}, actor=who
        ),
    ),
    ("lock", lambda s, task, who: locks.lock(s, task=task, actor=who)),
    ("lock for bob", lambda s, task, who: locks.lock(s, task=task, actor=who, target=_bob(s))),
    ("release", lambda s, task, who: locks.release(s, task=task, actor=who)),
    ("delete", lambda s, task, who: editing.delete(s, task=task)),
]


def _bob(session: Any) -> User:
    return session.scalars(select(User).where(User.username == "bob")).one()


@pytest.mark.parametrize(("name", "change"), _CHANGES, ids=[name for name, _ in _CHANGES])
def test_a_task_deleted_after_it_was_read_is_not_found(app, name, change) -> None:
    with app.app_context():
        make_template(db.session, "tpl")
        make_user(db.session, "bob")
        task_id = make_task(db.session, users=["admin"]).id
        if name == "release":
            admin = db.session.scalars(select(User).where(User.username == "admin")).one()
            db.session.execute(update(Task).where(Task.id == task_id).values(lock_id=admin.id))
        db.session.commit()

    with app.app_context():
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        task = visibility.get_visible_or_raise(db.session, task_id=task_id, user=admin)
        with Session(db.engine) as other:  # another request deletes it meanwhile
            other.execute(delete(Task).where(Task.id == task_id))
            other.commit()
        with pytest.raises(NotFound):
            change(db.session, task, admin)
        db.session.rollback()


@pytest.mark.skipif(backend_name() == "sqlite", reason="SQLite has no row locks to wait for")
def test_a_change_waits_for_a_deletion_in_progress_and_finds_the_task_gone(app) -> None:
    with app.app_context():
        make_template(db.session, "tpl")
        make_user(db.session, "bob")
        task_id = make_task(db.session, users=["admin"]).id
        db.session.commit()
    outcome: list[BaseException | None] = []
    with app.app_context(), Session(db.engine) as other:
        other.execute(delete(Task).where(Task.id == task_id))  # not committed yet

        def change() -> None:
            with app.app_context():
                admin = db.session.scalars(select(User).where(User.username == "admin")).one()
                task = visibility.get_visible_or_raise(db.session, task_id=task_id, user=admin)
                try:
                    task_changes.update(
                        db.session, task=task, changes={"users": ["bob"]}, actor=admin
                    )
                    outcome.append(None)
                except Exception as exc:  # noqa: BLE001 - checked below
                    outcome.append(exc)
                db.session.rollback()

        thread = threading.Thread(target=change)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the change did not wait for the deletion"
        other.commit()
        thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], NotFound), outcome
