"""Tasks waiting for their data (`wait_for`): which are due for a check, and what an answer does.

A task created with `wait_for` is `waiting`: neither assigned nor claimable. The callback workers
(`workers.waiting`) GET its URL when it falls due. A 2xx answer makes it `queued` (a `status`
history row records when) and, when it was created naming nobody (`dispatch_pending`), hands it
out by automatic assignment. Any other answer, or none, leaves it waiting: `wait_detail` says why,
and the next check comes after the interval, doubled after each such answer, up to the longest.

Checks are claimed by pushing `wait_next_time` past the check's duration with a conditional
UPDATE (after SELECT ... FOR UPDATE SKIP LOCKED where the database has it), so several workers
never check one task at once, and a worker that dies mid-check only delays the next one. A task
whose status was changed by hand while it was checked is left as it is. The functions here commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from ...models import Group, Task, User, utcnow
from ...models.statuses import TaskStatus
from ..kit.errors import Conflict, DomainError
from . import assignment, history

# wait_detail's column width.
DETAIL_MAX = 512
# Doubling stops here: beyond it the interval is the longest anyway, and floats stay finite.
MAX_DOUBLINGS = 40


@dataclass(frozen=True)
class DueCheck:
    """A task this worker claimed for one check of its URL."""

    task_id: int
    url: str


@dataclass(frozen=True)
class Answer:
    """What one GET of a `wait_for` URL came to: a status code, or why there was none."""

    status_code: int | None
    error: str | None = None
    # A little of a non-2xx answer's text, to say why in wait_detail.
    excerpt: str = ""

    @property
    def arrived(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Backoff:
    """Seconds until the next check: `interval` after the first answer that was not 2xx,
    doubling after each further one, never more than `longest`."""

    interval: float
    longest: float

    def after(self, failed_checks: int) -> timedelta:
        doublings = min(max(failed_checks - 1, 0), MAX_DOUBLINGS)
        seconds = self.interval * 2.0**doublings
        return timedelta(seconds=min(seconds, max(self.longest, self.interval)))


def _due(now: datetime) -> ColumnElement[bool]:
    # No wait_next_time (as creation leaves it): check now.
    return and_(
        Task.status == TaskStatus.WAITING,
        Task.wait_for.is_not(None),
        or_(Task.wait_next_time.is_(None), Task.wait_next_time <= now),
    )


def due_for_check(
    session: Session, *, now: datetime | None = None, limit: int, lease: timedelta
) -> list[DueCheck]:
    """Claim up to `limit` waiting tasks whose check is due, for `lease` (the longest a check
    may take); what to GET for each (commits)."""
    now = now or utcnow()
    query = select(Task.id, Task.wait_for).where(_due(now)).order_by(Task.id).limit(limit)
    if session.get_bind().dialect.name in ("postgresql", "mysql", "mariadb"):
        candidates = session.execute(query.with_for_update(skip_locked=True)).all()
    else:
        # SQLite has one writer: end the read, so the writes below wait for the lock rather
        # than fail on a stale snapshot; the conditional UPDATE checks again.
        candidates = session.execute(query).all()
        session.commit()
    claimed = []
    for task_id, url in candidates:
        result = session.execute(
            update(Task)
            .where(Task.id == task_id, _due(now))
            # A check is no change to the task: its update_time stays.
            .values(wait_next_time=now + lease, update_time=Task.update_time)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(DueCheck(task_id=task_id, url=str(url)))
    session.commit()
    return claimed


def next_check_at(session: Session) -> datetime | None:
    """When the first waiting task that is not due yet falls due; None when none waits so."""
    return session.scalars(
        select(Task.wait_next_time)
        .where(
            Task.status == TaskStatus.WAITING,
            Task.wait_for.is_not(None),
            Task.wait_next_time > utcnow(),
        )
        .order_by(Task.wait_next_time)
        .limit(1)
    ).first()


def record_check(
    session: Session,
    *,
    task_id: int,
    answer: Answer,
    backoff: Backoff,
    url: str | None = None,
    now: datetime | None = None,
) -> str:
    """What came of one check of the task's URL (`url`, when given, the one checked): `arrived`
    (now queued, and handed out when it was created naming nobody), `waiting` (checked again
    later), or `left` when the task is no longer waiting (its status was changed by hand
    meanwhile) or now waits for another URL (checked afresh). Commits."""
    now = now or utcnow()
    assignment.take_write_lock(session)
    row = session.execute(
        select(Task.status, Task.wait_for, Task.wait_attempts, Task.dispatch_pending)
        .where(Task.id == task_id)
        .with_for_update()
    ).first()
    if row is None or row.status != TaskStatus.WAITING or url not in (None, row.wait_for):
        session.rollback()
        return "left"
    checks = (row.wait_attempts or 0) + 1
    if answer.arrived:
        _arrive(session, task_id, url=row.wait_for, answer=answer, checks=checks, now=now)
        if row.dispatch_pending:
            _dispatch(session, task_id, now=now)
        outcome = "arrived"
    else:
        _set(
            session,
            task_id,
            wait_attempts=checks,
            wait_checked_time=now,
            wait_next_time=_stored_not_sooner(session, now + backoff.after(checks)),
            wait_detail=describe(answer, now),
            update_time=Task.update_time,
        )
        outcome = "waiting"
    session.commit()
    return outcome


def _stored_not_sooner(session: Session, when: datetime) -> datetime:
    """`when` as the column keeps it without falling due early: MariaDB's DATETIME drops the
    fraction of a second, so there it is rounded up."""
    if when.microsecond and session.get_bind().dialect.name in ("mysql", "mariadb"):
        return when.replace(microsecond=0) + timedelta(seconds=1)
    return when


def describe(answer: Answer, at: datetime) -> str:
    """Why the task still waits: "GET answered 404 at 2026-12-06T15:20:00Z: Not Found"."""
    when = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if answer.status_code is None:
        text = f"GET failed at {when}: {answer.error or 'no answer'}"
    else:
        text = f"GET answered {answer.status_code} at {when}"
        if 300 <= answer.status_code < 400:
            text += " (redirects are not followed: wait_for must be the final URL)"
        elif answer.excerpt:
            text += f": {answer.excerpt}"
    return _fit(text)


def _fit(text: str) -> str:
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"


def _set(session: Session, task_id: int, **values: Any) -> None:
    session.execute(
        update(Task)
        .where(Task.id == task_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _arrive(
    session: Session, task_id: int, *, url: str, answer: Answer, checks: int, now: datetime
) -> None:
    _set(
        session,
        task_id,
        status=TaskStatus.QUEUED,
        wait_attempts=checks,
        wait_checked_time=now,
        wait_next_time=None,
        wait_detail=None,
        update_time=now,
    )
    history.record(
        session,
        task_id=task_id,
        actor=None,
        action="status",
        detail={
            "old": TaskStatus.WAITING.value,
            "new": TaskStatus.QUEUED.value,
            "reason": "data arrived",
            "wait_for": url,
            "answered": answer.status_code,
        },
    )


# A policy's reader ledger refuses a choice another request made at the same moment (Conflict):
# choosing again then sees that request's reader.
DISPATCH_TRIES = 3


def _assign(session: Session, task: Task, group: Group | None) -> list[User] | DomainError:
    """The users automatic assignment chose, or why it gave the task to nobody (each try in a
    savepoint, so a refused one leaves nothing behind)."""
    refusal: DomainError | None = None
    for _ in range(DISPATCH_TRIES):
        try:
            with session.begin_nested():
                return assignment.assign_automatically(session, tasks=[task], group=group)
        except DomainError as refused:
            session.expire(task)  # its users as before the savepoint
            refusal = refused
            if not isinstance(refused, Conflict):
                break
    assert refusal is not None
    return refusal


def _dispatch(session: Session, task_id: int, *, now: datetime) -> None:
    """Hand the task out as creation would have: by weight among its group's members, or
    among all users. When nobody is eligible it stays queued and unassigned, and says why."""
    task = session.get(Task, task_id, populate_existing=True)
    assert task is not None  # locked above
    if task.users or task.groups:
        # Assigned by hand while it waited: that stands.
        _set(session, task_id, dispatch_pending=False)
        return
    group = session.get(Group, task.dispatch_group_id) if task.dispatch_group_id else None
    chosen = _assign(session, task, group)
    if isinstance(chosen, DomainError):
        _set(session, task_id, wait_detail=_fit(f"Queued, but not handed out: {chosen.message}"))
        return
    _set(session, task_id, dispatch_pending=False, update_time=now)
    detail: dict[str, Any] = {
        "old": {"users": [], "groups": []},
        "new": {"users": [user.username for user in chosen], "groups": []},
        "automatic": True,
    }
    if group is not None:
        detail["distribute_in_group"] = group.groupname
    history.record(session, task_id=task_id, actor=None, action="assign", detail=detail)
