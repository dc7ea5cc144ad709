"""A project over time: tasks done per day, the tasks left at the end of each day, and when the
rest will be done at the recent pace.

Days are UTC calendar days, bucketed by the database (`date()` of a UTC timestamp, which SQLite,
PostgreSQL and MariaDB all have; SQLite answers with text). The window is the last WINDOW_DAYS
days, today included; a day without anything done counts 0.

The rate is the mean done per day over the last RATE_DAYS days (today included, so a morning
lowers it a little). The estimate is today plus the open tasks divided by the rate, rounded up
to whole days; without any task done in those days there is no estimate.

"Left at the end of a day" counts the tasks created by then and not yet done then. Tasks that
are aborted now are left out on every day, as if never created: nobody was going to do them.
Counted backwards from today's open tasks, so a task's history is not needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Executable, Select, case, func, select
from sqlalchemy.orm import Session

from ...models import CLOSED_STATUSES, Task, TaskStatus, User
from . import visibility
from .dashboard import Progress

WINDOW_DAYS = 30
RATE_DAYS = 14

_DONE = TaskStatus.DONE.value
_ABORTED = TaskStatus.ABORTED.value


@dataclass(frozen=True)
class Estimate:
    """When the open tasks will be done at `rate` tasks a day (None: no work done lately)."""

    open: int
    rate: float
    finish: date | None

    @property
    def finished(self) -> bool:
        return self.open == 0


@dataclass
class Timeline:
    """One project's last WINDOW_DAYS days: done per day and tasks left at each day's end."""

    days: list[date]
    done: list[int]
    left: list[int]
    estimate: Estimate
    progress: Progress = field(default_factory=lambda: Progress(key="", label=""))


def today_utc() -> date:
    return datetime.now(UTC).date()


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _as_date(value: Any) -> date:
    """A `date()` result: a date (PostgreSQL, MariaDB) or ISO text (SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def estimate(*, open_tasks: int, done_in_rate_days: int, today: date) -> Estimate:
    """The finish date at the mean pace of the last RATE_DAYS days."""
    rate = done_in_rate_days / RATE_DAYS
    if open_tasks == 0:
        return Estimate(open=0, rate=rate, finish=today)
    if rate <= 0:
        return Estimate(open=open_tasks, rate=0.0, finish=None)
    return Estimate(
        open=open_tasks, rate=rate, finish=today + timedelta(days=math.ceil(open_tasks / rate))
    )


def project_timeline(
    session: Session, *, viewer: User, project: str, today: date | None = None
) -> Timeline | None:
    """The project's counts by status and its timeline, over the tasks the viewer sees; None if
    the viewer sees none of the project's tasks."""
    today = today or today_utc()
    days = [today - timedelta(days=back) for back in range(WINDOW_DAYS - 1, -1, -1)]
    progress = Progress(key=project, label=project)
    done_per_day: dict[date, int] = {}
    created_per_day: dict[date, int] = {}
    for status, done_day, created_day, count in _untyped(
        session, _timeline_query(session, viewer, project, _start_of(days[0]))
    ):
        progress.counts[status] = progress.counts.get(status, 0) + count
        if done_day is not None:
            day = _as_date(done_day)
            done_per_day[day] = done_per_day.get(day, 0) + count
        if created_day is not None:
            day = _as_date(created_day)
            created_per_day[day] = created_per_day.get(day, 0) + count
    if not progress.total:
        return None
    open_now = open_tasks(progress)
    done = [done_per_day.get(day, 0) for day in days]
    left = _left_by_day(days, open_now, done_per_day, created_per_day)
    return Timeline(
        days=days,
        done=done,
        left=left,
        estimate=estimate(
            open_tasks=open_now, done_in_rate_days=sum(done[-RATE_DAYS:]), today=today
        ),
        progress=progress,
    )


def _timeline_query(session: Session, viewer: User, project: str, since: datetime) -> Select[Any]:
    """One pass over the project's tasks: counted by status, by the day each was done (if done
    in the window) and by the day each was created (if created in the window and not aborted).
    A few hundred groups at most, and the visibility rule is evaluated once."""
    bucketed = (
        select(
            Task.status.label("status"),
            case(
                ((Task.status == _DONE) & (Task.done_time >= since), func.date(Task.done_time)),
                else_=None,
            ).label("done_day"),
            case(
                (
                    (Task.status != _ABORTED) & (Task.create_time >= since),
                    func.date(Task.create_time),
                ),
                else_=None,
            ).label("created_day"),
        )
        .where(visibility.visible_to_as_sets(session, user=viewer), Task.project == project)
        .subquery()
    )
    columns = (bucketed.c.status, bucketed.c.done_day, bucketed.c.created_day)
    return select(*columns, func.count()).group_by(*columns)


def open_tasks(progress: Progress) -> int:
    """How many of the counted tasks are open (in no closed status)."""
    return sum(count for status, count in progress.counts.items() if status not in CLOSED_STATUSES)


def _untyped(session: Session, query: Executable) -> Iterable[Any]:
    """The rows of an aggregate (SQLAlchemy types the columns of SUM and CASE loosely)."""
    return session.execute(query)


def _left_by_day(
    days: list[date],
    open_now: int,
    done_per_day: dict[date, int],
    created_per_day: dict[date, int],
) -> list[int]:
    """Open at the end of each day, walking back from now: the day after's done were still
    open, the day after's created did not exist yet."""
    left = [0] * len(days)
    count = open_now
    for index in range(len(days) - 1, -1, -1):
        left[index] = max(count, 0)
        count += done_per_day.get(days[index], 0) - created_per_day.get(days[index], 0)
    return left


def rate_start(today: date) -> datetime:
    """The start of the RATE_DAYS days (today included) whose done tasks set the pace."""
    return _start_of(today - timedelta(days=RATE_DAYS - 1))


def counted_estimates(projects: Iterable[Progress], *, today: date) -> dict[str, Estimate]:
    """The estimate of each project of a dashboard summary that counted the tasks done since
    rate_start(today) itself (dashboard.summary with `done_since`): no query."""
    return {
        str(entry.key): estimate(
            open_tasks=open_tasks(entry), done_in_rate_days=entry.done_since, today=today
        )
        for entry in projects
    }


def project_estimates(
    session: Session, *, viewer: User, projects: Iterable[Progress], today: date | None = None
) -> dict[str, Estimate]:
    """The estimate of each project counted in `projects` (the dashboard's summary), adding the
    tasks done in the last RATE_DAYS days per project from one GROUP BY over those alone."""
    today = today or today_utc()
    since = rate_start(today)
    # The set form of the rule: its cost follows what the viewer has, and PostgreSQL reckons it
    # so; the per-row form, reckoned for every task done lately, made it compile the query (JIT).
    query = (
        select(Task.project, func.count())
        .where(Task.status == _DONE, Task.done_time >= since, visibility.visible_to_as_set(viewer))
        .group_by(Task.project)
    )
    recent: dict[str, int] = {project: count for project, count in _untyped(session, query)}
    return {
        str(entry.key): estimate(
            open_tasks=open_tasks(entry),
            done_in_rate_days=recent.get(str(entry.key), 0),
            today=today,
        )
        for entry in projects
    }
