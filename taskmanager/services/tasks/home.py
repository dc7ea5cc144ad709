"""An annotator's home: the tasks they hold a lock on, and how much they finished lately."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ...models import CLOSED_STATUSES, Task, TaskStatus, User, utcnow

HELD_SHOWN = 20


@dataclass(frozen=True)
class HeldTask:
    """A task the user holds a lock on: what the "Continue" link shows."""

    id: int
    project: str
    lock_time: datetime | None


def held_tasks(
    session: Session, *, user: User, timeout: float | None = None, limit: int = HELD_SHOWN
) -> list[HeldTask]:
    """Open tasks locked to the user, the most recently locked first; with a lease (`timeout`
    seconds), a lapsed lock is no longer held."""
    query = select(Task.id, Task.project, Task.lock_time).where(
        Task.lock_id == user.id, Task.status.not_in(CLOSED_STATUSES)
    )
    if timeout is not None:
        query = query.where(Task.lock_time >= utcnow() - timedelta(seconds=timeout))
    rows = session.execute(query.order_by(Task.lock_time.desc(), Task.id.desc()).limit(limit))
    return [HeldTask(*row) for row in rows]


@dataclass(frozen=True)
class DoneCounts:
    today: int
    this_week: int


def done_counts(session: Session, *, user: User, now: datetime | None = None) -> DoneCounts:
    """Tasks the user marked done today and this week (from Monday), in UTC."""
    now = now or utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    since_today, since_monday = session.execute(
        select(
            # COUNT of a CASE, not FILTER: MariaDB has no FILTER clause.
            func.count(case((Task.done_time >= today, Task.id))),
            func.count(Task.id),
        ).where(
            Task.done_by_id == user.id,
            Task.status == TaskStatus.DONE,
            Task.done_time >= monday,
        )
    ).one()
    return DoneCounts(today=since_today, this_week=since_monday)
