"""Claiming the next task: the first queued, free task the user may take, locked to them at once."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Integer,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    func,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from ...models import (
    ProjectPolicy,
    Tag,
    Task,
    TaskStatus,
    TaskTemplate,
    User,
    task_tags,
    task_users,
    utcnow,
)
from ..kit.errors import Conflict, InvalidInput
from ..kit.references import as_id
from ..kit.typed_rows import as_tuple
from ..reference import tags as tag_service
from ..tasks import assignment, history, readers, visibility
from ..tasks import policy as policy_service
from . import reader_rules
from .locks import CLAIM_ATTEMPTS, TASKS, free_condition, set_lock


@dataclass(frozen=True)
class Claim:
    """The task a claim locked to its caller (still queued)."""

    id: int
    project: str
    template_id: int


ORDERS = ("priority", "id")


def claim_next(
    session: Session,
    *,
    user: User,
    timeout: float | None = None,
    project: str | None = None,
    template: str | None = None,
    tags: Sequence[str] = (),
    order: str | None = None,
) -> Claim | None:
    """Lock the oldest queued, free task the user may do to them; None when there is none.

    `order="priority"` (or a project policy's priority_order, when claiming from that project)
    takes the most urgent first: priority, then due date, then age. The project policies'
    reader rules hold (services/tasks/policy.py).

    Concurrent claims never get the same task: PostgreSQL and MariaDB skip rows another claim
    has locked (FOR UPDATE SKIP LOCKED); every backend re-checks with a conditional UPDATE.
    """
    tag_service.check_filters(tags)
    if order is not None and order not in ORDERS:
        raise InvalidInput(f"order must be one of {', '.join(ORDERS)}", field="order")
    now = utcnow()
    request = _ClaimRequest(
        user=user,
        timeout=timeout,
        now=now,
        filters=(project is not None, template is not None, bool(tags)),
        params={
            "claim_user_id": user.id,
            "claim_project": project,
            "claim_template_label": template,
            "claim_template_id": _template_id(template),
            "claim_now": now,
            "claim_cutoff": None if timeout is None else now - timedelta(seconds=timeout),
        },
    )
    if tags:
        tag_params = _tag_params(session, tags)
        if tag_params is None:
            return None  # no task carries a tag that does not exist
        request.params.update(tag_params)
    tried_plain = False
    if order != "priority" and not _POLICIES_SEEN.likely(session):
        # Most claims meet no policy: they claim as always, in one statement where the
        # database can, unless a policy applies (a guard in the same SQL).
        claim = _claim(session, request, _shape(session, request, guarded=True), {})
        if claim is not None:
            return claim
        tried_plain = True
    policies = policy_service.of_projects(session, None if project is None else [project])
    if project is None:
        _POLICIES_SEEN.remember(session, bool(policies))
    if order != "priority" and not _applies(policies, project):
        return None if tried_plain else _claim(session, request, _shape(session, request), {})
    rules, rule_params = _reader_rules(session, policies, user, now)
    request.params.update(rule_params)
    by_priority = order == "priority" or (
        order is None and project in policies and policies[project].priority_order
    )
    shape = _shape(session, request, rules=rules, by_priority=by_priority)
    return _claim(session, request, shape, policies)


class _PolicyHint:
    """Whether this process lately found policies in force, per database: a claim then asks
    for them first instead of trying the plain claim (whose guard would refuse). Only the
    path's cost depends on it; the guard and the rules are read from the database."""

    SECONDS = 5.0

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, bool]] = {}

    def likely(self, session: Session) -> bool:
        until, found = self._seen.get(str(session.get_bind().engine.url), (0.0, False))
        return found and time.monotonic() < until

    def remember(self, session: Session, found: bool) -> None:
        self._seen[str(session.get_bind().engine.url)] = (time.monotonic() + self.SECONDS, found)


_POLICIES_SEEN = _PolicyHint()


@dataclass
class _ClaimRequest:
    user: User
    timeout: float | None
    now: datetime
    filters: tuple[bool, bool, bool]  # project, template, tags
    params: dict[str, Any]


def _applies(policies: dict[str, policy_service.Policy], project: str | None) -> bool:
    """Whether a policy changes what this claim may get or in what order (the guard of the
    plain claim's SQL, asked in Python)."""
    return any(
        found.limits_readers or (project is not None and found.priority_order)
        for found in policies.values()
    )


def _claim(
    session: Session,
    request: _ClaimRequest,
    shape: _ClaimShape,
    policies: dict[str, policy_service.Policy],
) -> Claim | None:
    user, params = request.user, dict(request.params)
    detail = {"user": user.username, "claimed": True}
    if shape.records_history:
        params["claim_detail"] = history.detail_text(detail)
    statements = _claim_statements(shape)
    for _ in range(CLAIM_ATTEMPTS):
        if shape.one_statement:
            # One statement finds, re-checks and takes the task: half the round trips.
            row = session.execute(statements[0], params).first()
            if row is not None and shape.rules:
                found_id, project, template_id, taken_id = as_tuple(row)
                if taken_id is None:
                    continue  # another claim recorded the subject or series first: look again
                return Claim(found_id, project, template_id)
            if row is not None:
                claim = Claim(*as_tuple(row))
                if not shape.records_history:
                    history.record(
                        session, task_id=claim.id, actor=user, action="lock", detail=detail
                    )
                return claim
        first, held = _search(session, shape, statements, params)
        if first is None:
            return None
        claim = Claim(*as_tuple(first)[:3])
        if shape.rules:
            taken = _take_within_rules(session, policies, first, request, held=held)
        else:
            taken = set_lock(session, claim.id, user, *_claim_conditions(request.timeout))
        if taken:
            history.record(session, task_id=claim.id, actor=user, action="lock", detail=detail)
            return claim
    raise Conflict("Could not claim a task under heavy contention; try again", field="task")


def _search(
    session: Session,
    shape: _ClaimShape,
    statements: Sequence[Executable],
    params: dict[str, Any],
) -> tuple[Row[Any] | None, bool]:
    """The task to try to take next, found without taking it (None when there is none), and
    whether this transaction holds its row lock (FOR UPDATE) now."""
    found = [] if shape.one_statement else _first_rows(session, statements, params)
    held = bool(found) and shape.locks_rows
    if not found and shape.locks_rows:
        # Nothing *unlocked* is not nothing: a row is also locked for a moment by a request
        # that edits the task, or (MariaDB: InnoDB locks the rows a search reads) by another
        # claim that only looked at it. Read again without skipping; a task still free is
        # then taken by the conditional UPDATE, which waits for that lock.
        found = _first_rows(session, _claim_statements(shape.without_row_locks()), params)
    if not found:
        return None, False
    # (Two searches, with a lease: the lower id, or the more urgent.)
    return (found[0] if shape.by_priority else min(found)), held


def _tag_params(session: Session, tags: Sequence[str]) -> dict[str, Any] | None:
    """Tag names become ids first: one per-row test then checks them all. None when a tag does
    not exist."""
    wanted = set(tags)
    tag_ids = list(session.scalars(select(Tag.id).where(Tag.name.in_(wanted))))
    if len(tag_ids) < len(wanted):
        return None
    return {"claim_tag_ids": tag_ids, "claim_tag_count": len(tag_ids)}


def _shape(
    session: Session,
    request: _ClaimRequest,
    *,
    guarded: bool = False,
    rules: tuple[_Rule, ...] = (),
    by_priority: bool = False,
) -> _ClaimShape:
    dialect = session.get_bind().dialect
    project, template, tags = request.filters
    # With reader rules only PostgreSQL writes the ledgers inside the same statement.
    one_statement = (
        bool(dialect.update_returning)
        and request.timeout is None
        and (not rules or dialect.name == "postgresql")
    )
    return _ClaimShape(
        locks_rows=dialect.name != "sqlite",
        one_statement=one_statement,
        # A data-modifying WITH clause: only PostgreSQL runs an INSERT inside another statement.
        records_history=dialect.name == "postgresql" and one_statement,
        index_order=dialect.name not in ("mysql", "mariadb"),
        reads_all=visibility.reads_all(request.user),
        project=project,
        template=template,
        tags=tags,
        lease=request.timeout is not None,
        guarded=guarded,
        rules=rules,
        by_priority=by_priority,
    )


@dataclass(frozen=True)
class _Rule:
    """One project's reader rules as they bind this claim (the project and the time a washout
    runs from are bound parameters, so statements are shared between projects and claims)."""

    subject: bool  # distinct_readers or washout_days
    distinct: bool
    series: bool  # consistent_series
    full: bool  # the claimer holds max_open_per_user open tasks of the project
    capped: bool = False  # the claim's statement itself counts what the claimer holds


def _reader_rules(
    session: Session, policies: dict[str, policy_service.Policy], user: User, now: datetime
) -> tuple[tuple[_Rule, ...], dict[str, Any]]:
    """The rules of the policies that limit readers, and their parameters.

    Under a cap the claimer's user row is locked first: their concurrent claims (and automatic
    assignments, which lock every candidate) then take turns, so the count of what they hold,
    read after it, still holds when the task is taken. Subject and series rules need no lock:
    the ledgers' primary keys decide.
    """
    limiting = sorted(
        (found for found in policies.values() if found.limits_readers), key=lambda p: p.project
    )
    if not limiting:
        return (), {}
    if any(found.max_open_per_user is not None for found in limiting):
        assignment.lock_reader(session, user.id)
    else:
        assignment.take_write_lock(session)
    # PostgreSQL counts in the statement that takes the task (one round trip less).
    count_in_sql = session.get_bind().dialect.name == "postgresql"
    rules: list[_Rule] = []
    params: dict[str, Any] = {}
    for rule_policy in limiting:
        cap = rule_policy.max_open_per_user
        rule = _Rule(
            subject=rule_policy.subject_rule,
            distinct=rule_policy.distinct_readers,
            series=rule_policy.consistent_series,
            full=cap is not None
            and not count_in_sql
            and readers.holds_at_least(session, rule_policy.project, user.id, cap),
            capped=cap is not None and count_in_sql,
        )
        if not (rule.subject or rule.series or rule.full or rule.capped):
            continue  # a cap the claimer is below
        index = len(rules)
        rules.append(rule)
        params[f"claim_rule_project_{index}"] = rule_policy.project
        params[f"claim_rule_cutoff_{index}"] = rule_policy.subject_cutoff(now)
        params[f"claim_rule_cap_{index}"] = cap
    return tuple(rules), params


def _take_within_rules(
    session: Session,
    policies: dict[str, policy_service.Policy],
    found: Row[Any],
    request: _ClaimRequest,
    *,
    held: bool,
) -> bool:
    """Record the user as the found task's subject and series reader and lock it to them, or
    (when another request took it, or recorded someone else, meanwhile) do neither.

    The task's row is held first (the search may hold it already; SQLite has one writer, taken
    with the reader's row), so nobody can take the task between the ledgers and the lock.
    """
    task_id = as_tuple(found)[0]
    conditions = _claim_conditions(request.timeout)
    if not held and session.get_bind().dialect.name != "sqlite":
        still_free = select(Task.id).where(Task.id == task_id, *conditions).with_for_update()
        if session.execute(still_free).first() is None:
            return False
    if not _record_reader(session, policies, found, request):
        return False
    if not set_lock(session, task_id, request.user, *conditions):
        raise Conflict("The task changed while it was claimed; try again", field="task")
    return True


def _record_reader(
    session: Session,
    policies: dict[str, policy_service.Policy],
    found: Row[Any],
    request: _ClaimRequest,
) -> bool:
    """Record the user in the ledgers the task's project policy keeps; False when another
    request recorded someone else (or, for the subject, this reader too recently) first."""
    task_id, project, _template_id, subject, series = as_tuple(found)
    rules = policies.get(project)
    if rules is None:
        return True
    return reader_rules.record_reader(
        session,
        rules,
        task_id=task_id,
        subject=subject,
        series=series,
        user_id=request.user.id,
        now=request.now,
    )


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
    # Takes nothing when a policy applies (the claim then goes by the policy's rules).
    guarded: bool = False
    rules: tuple[_Rule, ...] = ()
    by_priority: bool = False

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
    conditions += [_within_rule(index, rule) for index, rule in enumerate(shape.rules)]
    if shape.guarded:
        conditions.append(~_policy_applies(shape.project))
    columns = [Task.id, Task.project, Task.template_id]
    if shape.rules:
        columns += [Task.subject, Task.series]
    query = select(*columns).where(*conditions).limit(1)
    if shape.locks_rows:
        query = query.with_for_update(skip_locked=True, key_share=True)
    # Ordered as the (status, lock_id, id) index is: with the first two fixed this is id order,
    # and it keeps the planner on that index. Ordered by id alone, PostgreSQL walked the primary
    # key and stepped over every task already claimed or done (its statistics said few were).
    # MariaDB does not see that order as the index's: it read and sorted every free task,
    # locking each (whole-table lock sets, deadlocks between claims); by id it walks the key.
    if shape.by_priority:
        never_locked = query.where(Task.lock_id.is_(None)).order_by(*policy_service.PRIORITY_ORDER)
        query = query.order_by(*policy_service.PRIORITY_ORDER)
    else:
        never_locked = query.where(Task.lock_id.is_(None)).order_by(
            *((Task.status, Task.lock_id, Task.id) if shape.index_order else (Task.id,))
        )
        query = query.order_by(Task.id)
    if shape.one_statement and shape.rules:
        return (_take_within_rules_statement(shape, never_locked),)
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


def _take_within_rules_statement(
    shape: _ClaimShape, search: Select[*tuple[Any, ...]]
) -> Executable:
    """PostgreSQL: find the task, record the claimer in the ledgers, lock the task to them and
    write its history, in one statement. It answers the task found and, when the ledgers let
    the claimer have it, the id taken (None: another request recorded someone else first).
    """
    claimer: BindParameter[int] = bindparam("claim_user_id")
    now = bindparam("claim_now", type_=TASKS.c.lock_time.type)
    found = search.cte("found")
    named = exists(
        select(task_users.c.task_id).where(
            task_users.c.task_id == found.c.id, task_users.c.user_id == claimer
        )
    )
    within_rules = [
        readers.recorded_in_one_statement(
            found,
            project=bindparam(f"claim_rule_project_{index}"),
            user_id=claimer,
            now=now,
            cutoff=bindparam(f"claim_rule_cutoff_{index}", type_=TASKS.c.lock_time.type),
            subject_rule=rule.subject,
            distinct=rule.distinct,
            series_rule=rule.series,
            name=str(index),
        )
        for index, rule in enumerate(shape.rules)
    ]
    taken = (
        update(TASKS)
        # A task assigned to the claimer by name is theirs whatever the ledgers say.
        .where(TASKS.c.id == found.c.id, or_(named, and_(*within_rules)))
        # (update_time too: a column's Python onupdate is not applied inside a WITH clause.)
        .values(lock_id=claimer, lock_time=now, update_time=now)
        .returning(TASKS.c.id)
        .cte("taken")
    )
    logged = history.insert_from(
        select(taken.c.id, claimer, bindparam("claim_detail"), now), action="lock"
    ).cte("logged")
    return (
        select(found.c.id, found.c.project, found.c.template_id, taken.c.id)
        .select_from(found.outerjoin(taken, taken.c.id == found.c.id))
        .add_cte(logged)
    )


def _policy_applies(project_filter: bool) -> ColumnElement[bool]:
    """A policy limits readers (of the claimed project, or of any), or orders the claimed
    project's tasks by priority: asked once per statement, of a table of a few rows."""
    applies = select(ProjectPolicy.project).where(
        or_(
            ProjectPolicy.distinct_readers.is_(True),
            ProjectPolicy.washout_days > 0,
            ProjectPolicy.consistent_series.is_(True),
            ProjectPolicy.max_open_per_user.is_not(None),
            *((ProjectPolicy.priority_order.is_(True),) if project_filter else ()),
        )
    )
    if project_filter:
        applies = applies.where(ProjectPolicy.project == bindparam("claim_project"))
    return applies.exists()


def _within_rule(index: int, rule: _Rule) -> ColumnElement[bool]:
    """Per row: the task is of another project than the rule's, or assigned to the claimer by
    name, or within the rule (subject, series, cap)."""
    claimer: BindParameter[int] = bindparam("claim_user_id")
    refusals: list[ColumnElement[bool]] = []
    if rule.subject:
        cutoff = bindparam(f"claim_rule_cutoff_{index}", type_=TASKS.c.lock_time.type)
        refusals.append(readers.subject_blocked(claimer, cutoff, distinct=rule.distinct))
    if rule.series:
        refusals.append(readers.series_elsewhere(claimer))
    if rule.full:
        refusals.append(true())
    if rule.capped:
        refusals.append(
            readers.holding_at_least(
                bindparam(f"claim_rule_project_{index}"),
                claimer,
                bindparam(f"claim_rule_cap_{index}", type_=Integer),
            )
        )
    return or_(
        Task.project != bindparam(f"claim_rule_project_{index}"),
        readers.named_reader_condition(claimer),
        not_(or_(*refusals)),
    )


def _has_every_tag(tag_ids: BindParameter[Any]) -> ColumnElement[bool]:
    """Per row: the task carries every one of the (distinct) tag ids."""
    carried = (
        select(func.count())
        .where(task_tags.c.task_id == Task.id, task_tags.c.tag_id.in_(tag_ids))
        .scalar_subquery()
    )
    return carried == bindparam("claim_tag_count")
