"""Races decided by the database: concurrent requests for the same change make it once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from taskmanager.models import CallbackDelivery, Tag, TaskHistory, User, db
from taskmanager.services import tasks

from ..support.task_factories import make_task, make_template, make_user

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
        task = tasks.get_visible_or_raise(session, task_id=task_id, user=alice)
        return tasks.mark_done(session, task=task, actor=alice)

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
        spec = tasks.NewTask(
            project="p", template="tpl", content="x", users=["admin"], tags=["new", "fresh"]
        )
        return len(tasks.create_many(session, specs=[spec], actor=None))

    assert _race(app, create) == [1] * RACERS
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Tag)) == 2
