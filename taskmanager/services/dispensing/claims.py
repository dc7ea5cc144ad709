"""Claiming the next task: the first queued, free task the user may take, locked to them at once."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Row,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from ...models import (
    Tag,
    Task,
    TaskStatus,
    TaskTemplate,
    User,
    task_tags,
    utcnow,
)
from ..kit.errors import Conflict
from ..kit.references import as_id
from ..kit.typed_rows import as_tuple
from ..reference import tags as tag_service
from ..tasks import history, visibility
from .locks import CLAIM_ATTEMPTS, TASKS, free_condition, set_lock


@dataclass(frozen=True)
class Claim:
    """The task a claim locked to its caller (still queued)."""

    id: int
    project: str
    template_id: int


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
        index_order=dialect.name not in ("mysql", "mariadb"),
        reads_all=visibility.reads_all(user),
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
        if not set_lock(session, claim.id, user, *_claim_conditions(timeout)):
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
    return Task.status == TaskStatus.QUEUED, free_condition(timeout)


@dataclass(frozen=True)
class _ClaimShape:
    """What decides the SQL of a claim; the values themselves are bound parameters.

    (Named claim_*: an UPDATE would take parameters named like a column as values to SET.)
    """

    locks_rows: bool  # FOR UPDATE SKIP LOCKED (not on SQLite)
    one_statement: bool  # UPDATE ... WHERE id = (search) RETURNING
    records_history: bool  # the history row is written by the same statement
    index_order: bool  # ORDER BY status, lock_id, id (the index) rather than id alone
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
    conditions = [Task.status == TaskStatus.QUEUED]
    if not shape.reads_all:
        conditions.append(visibility.assigned_lookup(bindparam("claim_user_id")))
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
    # MariaDB does not see that order as the index's: it read and sorted every free task,
    # locking each (whole-table lock sets, deadlocks between claims); by id it walks the key.
    never_locked = query.where(Task.lock_id.is_(None)).order_by(
        *((Task.status, Task.lock_id, Task.id) if shape.index_order else (Task.id,))
    )
    query = query.order_by(Task.id)
    if shape.one_statement:
        take = (
            # The table, not the entity: the ORM's bulk-update layer cost more than the SQL.
            update(TASKS)
            .where(
                Task.id == never_locked.with_only_columns(Task.id).scalar_subquery(),
                Task.status == TaskStatus.QUEUED,
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


def _has_every_tag(tag_ids: BindParameter[Any]) -> ColumnElement[bool]:
    """Per row: the task carries every one of the (distinct) tag ids."""
    carried = (
        select(func.count())
        .where(task_tags.c.task_id == Task.id, task_tags.c.tag_id.in_(tag_ids))
        .scalar_subquery()
    )
    return carried == bindparam("claim_tag_count")
