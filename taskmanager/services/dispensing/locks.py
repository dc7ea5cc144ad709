"""Task locks: who is working on a task. Taken, renewed, released and claimed atomically.

Every change is one conditional UPDATE whose row count says whether it happened, so among any
number of simultaneous requests, in any number of processes, exactly one takes a free lock.
With a lease (TASKMAN_LOCK_TIMEOUT) a lock not renewed within that many seconds has lapsed: it
counts as free everywhere, and the holder renews it by locking again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Table,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from ...models import (
    Task,
    User,
    utcnow,
)
from ..accounts import permissions
from ..accounts.authentication import may_sign_in
from ..kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..tasks import history
from ..tasks.policy import Policy
from . import reader_rules

LOCK_ALL = ("task_update_lock_all", "task_update_all")
TASKS = cast(Table, Task.__table__)
# A claim retries when another request changed its candidate between choosing and locking.
CLAIM_ATTEMPTS = 25


class LockHeld(Conflict):
    """The task is locked by someone else (409); `holder` is who."""

    def __init__(self, holder: User) -> None:
        super().__init__("Task already locked!", field="lock")
        self.holder = holder


def may_lock_for_others(user: User) -> bool:
    return not permissions.of(user).isdisjoint(LOCK_ALL)


def _cutoff(timeout: float | None) -> datetime | None:
    return None if timeout is None else utcnow() - timedelta(seconds=timeout)


def free_condition(timeout: float | None) -> ColumnElement[bool]:
    """SQL condition: nobody holds the task's lock (never taken, released, or lapsed)."""
    cutoff = _cutoff(timeout)
    if cutoff is None:
        return Task.lock_id.is_(None)
    return or_(Task.lock_id.is_(None), Task.lock_time < cutoff)


def holder(session: Session, *, task: Task, timeout: float | None) -> User | None:
    """Who holds the task's lock as loaded (None when free or lapsed)."""
    return _holder_of(session, task.lock_id, task.lock_time, timeout)


def _holder_of(
    session: Session, lock_id: int | None, lock_time: datetime | None, timeout: float | None
) -> User | None:
    if lock_id is None:
        return None
    cutoff = _cutoff(timeout)
    if cutoff is not None and lock_time is not None and lock_time < cutoff:
        return None
    return session.get(User, lock_id)


def _current_holder(session: Session, task_id: int, timeout: float | None) -> User | None:
    """Who holds the task's lock now, read from its row; NotFound when the task was deleted."""
    row = session.execute(
        select(Task.lock_id, Task.lock_time).where(Task.id == task_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"Task {task_id} does not exist", field="task")
    return _holder_of(session, row.lock_id, row.lock_time, timeout)


def set_lock(
    session: Session, task_id: int, user: User | None, *conditions: ColumnElement[bool]
) -> bool:
    """One conditional UPDATE of a task's lock; True when it changed the row."""
    result = session.execute(
        update(Task)
        .where(Task.id == task_id, *conditions)
        .values(lock_id=user.id if user else None, lock_time=utcnow() if user else None)
        # MariaDB otherwise may reach the row through the lock_id index (equally "1 row" to its
        # planner), locking index entries in another order than the claims: deadlocks.
        .with_hint("FORCE INDEX (PRIMARY)", dialect_name="mysql")
        .with_hint("FORCE INDEX (PRIMARY)", dialect_name="mariadb"),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _refresh(session: Session, task: Task) -> None:
    if task in session:
        session.expire(task, ["lock_id", "lock_time", "lock", "update_time"])


def lock(
    session: Session,
    *,
    task: Task,
    actor: User,
    target: User | None = None,
    timeout: float | None = None,
) -> User:
    """Lock the task to the actor, or to `target` when one is named; answer the holder.

    Unnamed: taken when free or already the actor's (which renews the lease), else LockHeld.
    Naming another user needs task_update_lock_all or task_update_all (else Forbidden); with
    those permissions a named lock is set whoever held it (take over, or move to someone else).
    """
    force = target is not None and may_lock_for_others(actor)
    if target is not None and target.id != actor.id and not force:
        raise Forbidden(
            "Locking a task to another user requires task_update_lock_all or task_update_all",
            field="lock",
        )
    target = target or actor
    if not may_sign_in(target):
        raise InvalidInput(f"User {target.username!r} may not sign in", field="lock")
    rules = reader_rules.limiting_policy(session, task.project) if task.project else None
    if rules is None:
        taken = _take(session, task=task, actor=actor, target=target, force=force, timeout=timeout)
    else:
        taken = _take_under_rules(
            session, rules, task=task, actor=actor, target=target, force=force, timeout=timeout
        )
    _refresh(session, task)
    return taken


def _take_under_rules(
    session: Session,
    rules: Policy,
    *,
    task: Task,
    actor: User,
    target: User,
    force: bool,
    timeout: float | None,
) -> User:
    """_take when the project's policy limits readers: the reader's row, then the task's, are
    held while the rules are checked and the ledgers written, so what was checked still holds
    when the lock is set. A lock set for someone else by whoever may is recorded, not refused;
    taking one for oneself (a takeover too) is a reader's lock like any other."""
    reader_rules.hold_reader(session, rules, target.id)
    row = session.execute(
        select(Task.lock_id, Task.lock_time)
        .where(Task.id == task.id)
        .with_for_update(key_share=True)
    ).one_or_none()
    if row is None:
        raise NotFound(f"Task {task.id} does not exist", field="task")
    current = _holder_of(session, row.lock_id, row.lock_time, timeout)
    if current is not None and current.id == target.id:
        set_lock(session, task.id, target)  # the holder renews the lease
        return target
    if current is not None and not force:
        raise LockHeld(current)
    now = utcnow()
    if force and target.id != actor.id:
        # The data manager's choice, not refused: the ledgers learn it, and count it from now.
        reader_rules.record_reader(
            session,
            rules,
            task_id=task.id,
            subject=task.subject,
            series=task.series,
            user_id=target.id,
            now=now,
        )
    else:
        reader_rules.admit(session, rules, task=task, reader=target, now=now)
    set_lock(session, task.id, target)
    history.record(
        session, task_id=task.id, actor=actor, action="lock", detail={"user": target.username}
    )
    return target


def _take(
    session: Session, *, task: Task, actor: User, target: User, force: bool, timeout: float | None
) -> User:
    # The holder renewing comes first, so history only records locks changing hands.
    if set_lock(session, task.id, target, Task.lock_id == target.id):
        return target
    conditions = () if force else (free_condition(timeout),)
    for _ in range(CLAIM_ATTEMPTS):
        if set_lock(session, task.id, target, *conditions):
            history.record(
                session,
                task_id=task.id,
                actor=actor,
                action="lock",
                detail={"user": target.username},
            )
            return target
        current = _current_holder(session, task.id, timeout)
        if current is not None:
            if current.id == target.id:  # the target's own concurrent request took it
                return target
            raise LockHeld(current)
        # Released or lapsed between the two statements: try again.
    raise Conflict("The lock kept changing hands; try again", field="lock")


def release(session: Session, *, task: Task, actor: User, timeout: float | None = None) -> None:
    """Release the task's lock: by its holder, or with task_update_lock_all/task_update_all.

    Releasing a free (or lapsed) lock is a no-op; someone else's held lock is Forbidden.
    """
    previous = task.lock_id
    if previous == actor.id:
        released = set_lock(session, task.id, None, Task.lock_id == actor.id)
    elif may_lock_for_others(actor):
        released = set_lock(session, task.id, None, Task.lock_id.is_not(None))
    else:
        current = holder(session, task=task, timeout=timeout)
        if current is not None:
            raise Forbidden(
                f"The task is locked by {current.username}; releasing another user's lock "
                "requires task_update_lock_all or task_update_all",
                field="lock",
            )
        released = False  # free or lapsed: nothing to release
    if not released and (previous == actor.id or may_lock_for_others(actor)):
        _current_holder(session, task.id, timeout)  # NotFound when the task was deleted
    previous_user = session.get(User, previous) if released and previous is not None else None
    _refresh(session, task)
    if released:
        history.record(
            session,
            task_id=task.id,
            actor=actor,
            action="unlock",
            detail={"user": previous_user.username if previous_user else None},
        )


def held_locks(session: Session, *, task_ids: Sequence[int], timeout: float | None) -> set[int]:
    """Which of these tasks are locked now (a lapsed lease does not count)."""
    if not task_ids:
        return set()
    query = select(Task.id).where(Task.id.in_(list(task_ids)), not_(free_condition(timeout)))
    return set(session.scalars(query))
