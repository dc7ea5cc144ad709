"""An annotator's home: the tasks they hold, and what they finished today and this week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from taskmanager.models import Task
from taskmanager.services.dispensing import locks
from taskmanager.services.flows import task_changes
from taskmanager.services.tasks import home

from ...support.dispensing import age_lock
from ...support.task_factories import make_task, make_template, make_user


def test_held_tasks_are_open_ones_locked_to_the_user_newest_lock_first(session: Any) -> None:
    make_template(session, "tpl")
    ann, bob = make_user(session, "ann"), make_user(session, "bob")
    older, newer, finished, theirs = (make_task(session, users=["ann", "bob"]) for _ in range(4))
    locks.lock(session, task=older, actor=ann)
    age_lock(session, older, 120)
    locks.lock(session, task=newer, actor=ann)
    locks.lock(session, task=finished, actor=ann)
    task_changes.set_status(session, task=finished, status="done", actor=ann, release_lock=False)
    locks.lock(session, task=theirs, actor=bob)
    session.commit()

    assert [t.id for t in home.held_tasks(session, user=ann)] == [newer.id, older.id]
    # With a one-minute lease, the two-minute-old lock has lapsed.
    assert [t.id for t in home.held_tasks(session, user=ann, timeout=60)] == [newer.id]


def test_done_counts_for_today_and_this_week(session: Any) -> None:
    make_template(session, "tpl")
    ann = make_user(session, "ann")
    tasks = [make_task(session, users=["ann"]) for _ in range(5)]
    for task in tasks[:4]:
        task_changes.set_status(session, task=task, status="done", actor=ann)
    session.commit()
    wednesday_noon = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    times = [
        wednesday_noon,  # today
        wednesday_noon - timedelta(hours=11),  # today, early
        wednesday_noon - timedelta(days=2),  # Monday: this week
        wednesday_noon - timedelta(days=3),  # Sunday: last week
    ]
    for task, when in zip(tasks, times, strict=False):
        session.execute(update(Task).where(Task.id == task.id).values(done_time=when))
    session.commit()

    counts = home.done_counts(session, user=ann, now=wednesday_noon)

    assert (counts.today, counts.this_week) == (2, 3)
    assert home.done_counts(session, user=make_user(session, "bob"), now=wednesday_noon) == (
        home.DoneCounts(today=0, this_week=0)
    )
