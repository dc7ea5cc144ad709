"""Task locks: who is working on a task. Taken, renewed, released and claimed atomically.

Every change is one conditional UPDATE whose row count says whether it happened, so among any
number of simultaneous requests, in any number of processes, exactly one takes a free lock.
With a lease (TASKMAN_LOCK_TIMEOUT) a lock not renewed within that many seconds has lapsed: it
counts as free everywhere, and the holder renews it by locking again.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Row,
    Table,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from ..models import (
    Tag,
    Task,
    TaskTemplate,
    User,
    group_membership,
    task_groups_assigned,
    task_tags,
    task_users,
    utcnow,
)
from . import history, permissions
from . import tags as tag_service
from .authentication import may_sign_in
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .references import as_id
from .typed_rows import as_tuple

LOCK_ALL = ("task_update_lock_all", "task_update_all")
TASKS = cast(Table, Task.__table__)
# A claim retries when another request changed its candidate between choosing and locking.
CLAIM_ATTEMPTS = 25


@dataclass(frozen=True)
class Claim:
    """The task a claim locked to its caller (still queued)."""

    id: int
    project: str
    template_id: int


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


def _set_lock(
    session: Session, task_id: int, user: User | None, *conditions: ColumnElement[bool]
) -> bool:
    """One conditional UPDATE of a task's lock; True when it changed the row."""
    result = session.execute(
        update(Task)
        .where(Task.id == task_id, *conditions)
        .values(lock_id=user.id if user else None, lock_time=utcnow() if user else None),
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
    taken = _take(session, task=task, actor=actor, target=target, force=force, timeout=timeout)
    _refresh(session, task)
    return taken


def _take(
    session: Session, *, task: Task, actor: User, target: User, force: bool, timeout: float | None
) -> User:
    # The holder renewing comes first, so history only records locks changing hands.
    if _set_lock(session, task.id, target, Task.lock_id == target.id):
        return target
    conditions = () if force else (free_condition(timeout),)
    for _ in range(CLAIM_ATTEMPTS):
        if _set_lock(session, task.id, target, *conditions):
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
        released = _set_lock(session, task.id, None, Task.lock_id == actor.id)
    elif may_lock_for_others(actor):
        released = _set_lock(session, task.id, None, Task.lock_id.is_not(None))
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


def claim_next(
    session: Session,
    *,
    user: User,
    timeout: float | None = None,
    project: str | None = None,
    template: str | None = None,
    tags: Sequence[str] = (),
) -> Claim | None:
    """Lock the oldest queued, free task the user may do to them; None when there is none.

    Concurrent claims never get the same task: PostgreSQL and MariaDB skip rows another claim
    has locked (FOR UPDATE SKIP LOCKED); every backend re-checks with a conditional UPDATE.
    """
    tag_service.check_filters(tags)
    dialect = session.get_bind().dialect
    shape = _ClaimShape(
        locks_rows=dialect.name != "sqlite",
        one_statement=bool(dialect.update_returning) and timeout is None,
        # A data-modifying WITH clause: only PostgreSQL runs an INSERT inside another statement.
        records_history=dialect.name == "postgresql" and timeout is None,
        reads_all="task_read_all" in permissions.of(user),
        project=project is not None,
        template=template is not None,
        tags=bool(tags),
        lease=timeout is not None,
    )
    now = utcnow()
    params: dict[str, Any] = {
        "claim_user_id": user.id,
        "claim_project": project,
        "claim_template_label": template,
        "claim_template_id": _template_id(template),
        "claim_now": now,
        "claim_cutoff": None if timeout is None else now - timedelta(seconds=timeout),
    }
    detail = {"user": user.username, "claimed": True}
    if shape.records_history:
        params["claim_detail"] = history.detail_text(detail)
    if tags:
        # Tag names become ids first: one per-row test then checks them all.
        wanted = set(tags)
        tag_ids = list(session.scalars(select(Tag.id).where(Tag.name.in_(wanted))))
        if len(tag_ids) < len(wanted):
            return None  # no task carries a tag that does not exist
        params.update(claim_tag_ids=tag_ids, claim_tag_count=len(tag_ids))
    statements = _claim_statements(shape)
    for _ in range(CLAIM_ATTEMPTS):
        found = []
        if shape.one_statement:
            # One statement finds, re-checks and takes the task: half the round trips.
            taken = session.execute(statements[0], params).first()
            if taken is not None:
                claim = Claim(*as_tuple(taken))
                if not shape.records_history:
                    history.record(
                        session, task_id=claim.id, actor=user, action="lock", detail=detail
                    )
                return claim
        else:
            found = _first_rows(session, statements, params)
        if not found and shape.locks_rows:
            # Nothing *unlocked* is not nothing: a row is also locked for a moment by a request
            # that edits the task, or (MariaDB: InnoDB locks the rows a search reads) by another
            # claim that only looked at it. Read again without skipping; a task still free is
            # then taken by the conditional UPDATE below, which waits for that lock.
            found = _first_rows(session, _claim_statements(shape.without_row_locks()), params)
        if not found:
            return None
        claim = Claim(*as_tuple(min(found)))
        if not _set_lock(session, claim.id, user, *_claim_conditions(timeout)):
            continue
        history.record(session, task_id=claim.id, actor=user, action="lock", detail=detail)
        return claim
    raise Conflict("Could not claim a task under heavy contention; try again", field="task")


def _first_rows(
    session: Session, searches: Sequence[Executable], params: dict[str, Any]
) -> list[Row[Any]]:
    """The first row of each search that finds one."""
    return [row for search in searches if (row := session.execute(search, params).first())]


def _template_id(template: str | None) -> int | None:
    """The template named by id, when the name is one (an id too large names none)."""
    if template is None or not template.isdigit():
        return None
    return as_id(template)


def _claim_conditions(timeout: float | None) -> tuple[ColumnElement[bool], ...]:
    return Task.status == "queued", free_condition(timeout)


@dataclass(frozen=True)
class _ClaimShape:
    """What decides the SQL of a claim; the values themselves are bound parameters.

    (Named claim_*: an UPDATE would take parameters named like a column as values to SET.)
    """

    locks_rows: bool  # FOR UPDATE SKIP LOCKED (not on SQLite)
    one_statement: bool  # UPDATE ... WHERE id = (search) RETURNING
    records_history: bool  # the history row is written by the same statement
    reads_all: bool
    project: bool
    template: bool
    tags: bool
    lease: bool

    def without_row_locks(self) -> _ClaimShape:
        """The plain searches: no FOR UPDATE, no UPDATE."""
        return replace(self, locks_rows=False, one_statement=False, records_history=False)


@functools.lru_cache(maxsize=256)
def _claim_statements(shape: _ClaimShape) -> tuple[Executable, ...]:
    """A claim's statements, built once per shape: building SQL costs more CPU than running it.

    Never-locked tasks and lapsed ones are found by separate searches: each then follows an
    index in id order instead of sorting every free task.
    """
    conditions = [Task.status == "queued"]
    if not shape.reads_all:
        conditions.append(_claimable_by(bindparam("claim_user_id")))
    if shape.project:
        conditions.append(Task.project == bindparam("claim_project"))
    if shape.template:
        conditions.append(
            Task.template_id.in_(
                select(TaskTemplate.id).where(
                    or_(
                        TaskTemplate.label == bindparam("claim_template_label"),
                        TaskTemplate.id == bindparam("claim_template_id"),
                    )
                )
            )
        )
    if shape.tags:
        conditions.append(_has_every_tag(bindparam("claim_tag_ids", expanding=True)))
    query = select(Task.id, Task.project, Task.template_id).where(*conditions).limit(1)
    if shape.locks_rows:
        query = query.with_for_update(skip_locked=True, key_share=True)
    # Ordered as the (status, lock_id, id) index is: with the first two fixed this is id order,
    # and it keeps the planner on that index. Ordered by id alone, PostgreSQL walked the primary
    # key and stepped over every task already claimed or done (its statistics said few were).
    never_locked = query.where(Task.lock_id.is_(None)).order_by(Task.status, Task.lock_id, Task.id)
    query = query.order_by(Task.id)
    if shape.one_statement:
        take = (
            # The table, not the entity: the ORM's bulk-update layer cost more than the SQL.
            update(TASKS)
            .where(
                Task.id == never_locked.with_only_columns(Task.id).scalar_subquery(),
                Task.status == "queued",
                Task.lock_id.is_(None),
            )
            .values(lock_id=bindparam("claim_user_id"), lock_time=bindparam("claim_now"))
            .returning(Task.id, Task.project, Task.template_id)
        )
        if shape.records_history:
            # WITH taken AS (UPDATE ...), logged AS (INSERT history ...) SELECT * FROM taken:
            # the claim and its history row in one round trip.
            taken = take.cte("taken")
            logged = history.insert_from(
                select(
                    taken.c.id,
                    bindparam("claim_user_id"),
                    bindparam("claim_detail"),
                    bindparam("claim_now", type_=TASKS.c.lock_time.type),
                ),
                action="lock",
            ).cte("logged")
            return (select(taken.c.id, taken.c.project, taken.c.template_id).add_cte(logged),)
        return (take,)
    if shape.lease:
        return never_locked, query.where(Task.lock_time < bindparam("claim_cutoff"))
    return (never_locked,)


def _claimable_by(user_id: BindParameter[Any]) -> ColumnElement[bool]:
    """tasks.visible_to's rule, phrased as per-row lookups by task id.

    A claim walks the queue in id order and stops at the first task it may take; PostgreSQL
    would otherwise hash every task the user's groups hold before looking at the first one.
    """
    direct = (
        select(task_users.c.user_id)
        .where(task_users.c.task_id == Task.id, task_users.c.user_id == user_id)
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )
    via_group = (
        select(task_groups_assigned.c.group_id)
        .where(
            task_groups_assigned.c.task_id == Task.id,
            task_groups_assigned.c.group_id.in_(
                select(group_membership.c.group_id).where(group_membership.c.user_id == user_id)
            ),
        )
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )
    return or_(direct, via_group)


def _has_every_tag(tag_ids: BindParameter[Any]) -> ColumnElement[bool]:
    """Per row: the task carries every one of the (distinct) tag ids."""
    carried = (
        select(func.count())
        .where(task_tags.c.task_id == Task.id, task_tags.c.tag_id.in_(tag_ids))
        .scalar_subquery()
    )
    return carried == bindparam("claim_tag_count")
