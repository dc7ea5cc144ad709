"""The activity feed: one line per operation, however many tasks it touched.

History rows written by one operation share their actor, action and timestamp (`history.record_many`
stamps a whole batch with one time), so an operation is a distinct (timestamp, actor, action).
The feed takes the newest N of those from the index on task_history (timestamp, actor_id, action)
and aggregates only their rows: its cost follows the size of the operations shown, not of the
table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ...models import Task, TaskHistory, User
from . import visibility

FEED_MAX = 200


@dataclass(frozen=True)
class Part:
    """A piece of a feed line: plain text, or text that links to a user or a task."""

    text: str
    user_id: int | None = None
    task_id: int | None = None


@dataclass
class Operation:
    """One line of the feed: an actor's action on one task or on many at once."""

    timestamp: datetime
    action: str
    actor_id: int | None
    actor_username: str | None
    count: int
    task_id: int  # the newest task the operation touched
    projects: list[str]
    detail: Mapping[str, Any] | None
    parts: list[Part] = field(default_factory=list)

    @property
    def sentence(self) -> str:
        return "".join(part.text for part in self.parts)


@dataclass(frozen=True)
class Filters:
    """What the activity page narrows the feed to."""

    project: str | None = None
    actor: User | None = None


def recent(
    session: Session, *, viewer: User, limit: int = 15, filters: Filters = Filters()
) -> list[Operation]:
    """The newest operations on tasks the viewer sees, newest first, each counted."""
    limit = max(1, min(limit, FEED_MAX))
    scope = _Scope(session, viewer, filters)
    keys = _newest_keys(session, scope, limit)
    if not keys:
        return []
    wanted = set(keys)
    # Only the rows at the chosen operations' times (others at those times are dropped below).
    groups = session.execute(
        scope.narrow(
            select(
                TaskHistory.timestamp,
                TaskHistory.actor_id,
                TaskHistory.action,
                func.count(),
                func.max(TaskHistory.id),
                func.count(func.distinct(Task.project)),
                func.min(Task.project),
            ).join(Task, Task.id == TaskHistory.task_id)
        )
        .where(TaskHistory.timestamp.in_({key[0] for key in keys}))
        .group_by(TaskHistory.timestamp, TaskHistory.actor_id, TaskHistory.action)
    ).all()
    groups = [row for row in groups if (row[0], row[1], row[2]) in wanted]
    newest = {
        row_id: (task_id, detail, username)
        for row_id, task_id, detail, username in session.execute(
            select(TaskHistory.id, TaskHistory.task_id, TaskHistory.detail, User.username)
            .outerjoin(User, User.id == TaskHistory.actor_id)
            .where(TaskHistory.id.in_([row[4] for row in groups]))
        )
    }
    operations: list[tuple[int, Operation]] = []
    for timestamp, actor_id, action, count, newest_id, project_count, project in groups:
        task_id, detail, username = newest[newest_id]
        operation = Operation(
            timestamp=timestamp,
            action=action,
            actor_id=actor_id,
            actor_username=username,
            count=count,
            task_id=task_id,
            projects=[project] if project_count == 1 else [],
            detail=parse_detail(detail),
        )
        operation.parts = _parts(operation)
        operations.append((newest_id, operation))
    operations.sort(key=lambda pair: (pair[1].timestamp, pair[0]), reverse=True)
    return [operation for _, operation in operations]


def tasks_of(session: Session, *, viewer: User, operation: Operation) -> list[int]:
    """The ids of the tasks one operation touched that the viewer sees, by id."""
    query = (
        _Scope(session, viewer, Filters())
        .narrow(select(TaskHistory.task_id))
        .where(
            TaskHistory.timestamp == operation.timestamp,
            TaskHistory.action == operation.action,
            TaskHistory.actor_id == operation.actor_id
            if operation.actor_id is not None
            else TaskHistory.actor_id.is_(None),
        )
        .distinct()
        .order_by(TaskHistory.task_id)
    )
    return list(session.scalars(query))


Key = tuple[datetime, int | None, str]
KEYS_PAGE = 500


def _newest_keys(session: Session, scope: _Scope, limit: int) -> list[Key]:
    """The newest `limit` distinct (timestamp, actor, action), newest first.

    Pages of rows newest first, not SELECT DISTINCT: MariaDB reads the whole index for a
    DISTINCT before its LIMIT. A page cut inside one timestamp (a bulk operation's thousands of
    rows) is completed by a DISTINCT over that one timestamp, and the next page starts below it,
    so a big operation costs one page, not its size.
    """
    columns = (TaskHistory.timestamp, TaskHistory.actor_id, TaskHistory.action)
    found: set[Key] = set()
    before: datetime | None = None
    while len(found) < limit:
        page = scope.narrow(select(*columns))
        if before is not None:
            page = page.where(TaskHistory.timestamp < before)
        rows = session.execute(page.order_by(TaskHistory.timestamp.desc()).limit(KEYS_PAGE)).all()
        found.update((row[0], row[1], row[2]) for row in rows)
        if len(rows) < KEYS_PAGE:
            break
        before = rows[-1][0]
        at_the_cut = scope.narrow(select(*columns)).where(TaskHistory.timestamp == before)
        found.update((row[0], row[1], row[2]) for row in session.execute(at_the_cut.distinct()))
    # Newest first; one timestamp's operations in a fixed order (NULL, the server, last).
    ordered = sorted(found, key=lambda key: (key[0], key[1] or 0, key[2]), reverse=True)
    return ordered[:limit]


_Columns = TypeVarTuple("_Columns")


# A viewer who sees at least this many tasks has the newest history rows checked one by one.
ROW_BY_ROW_FROM = 20_000


class _Scope:
    """Which history rows a query reads: on tasks the viewer sees, of a project, by an actor.

    The viewer's tasks are the rule's id set (`visibility`), in the form each planner handles:
    PostgreSQL and SQLite look the set's tasks' history up by task id; MariaDB runs
    `IN (... UNION ...)` once per history row, so there the set is joined instead. Elsewhere a
    viewer who sees many tasks (ROW_BY_ROW_FROM) has each of the newest history rows checked by
    itself (the per-row form, fenced on PostgreSQL) instead: the set would be hashed whole to
    keep a few hundred rows that are almost all theirs.
    """

    def __init__(self, session: Session, viewer: User, filters: Filters) -> None:
        self.viewer = None if visibility.reads_all(viewer) else viewer
        self.filters = filters
        dialect = session.get_bind().dialect.name
        self.joins_set = dialect in ("mysql", "mariadb")
        self.fence = dialect == "postgresql"
        self.row_by_row = (
            self.viewer is not None
            and not self.joins_set
            and visibility.sees_at_least(session, user=self.viewer, count=ROW_BY_ROW_FROM)
        )

    def narrow(self, query: Select[*_Columns]) -> Select[*_Columns]:
        if self.viewer is not None and self.row_by_row:
            query = query.where(
                visibility.assigned_exists(
                    self.viewer.id, fence=self.fence, task_id=TaskHistory.task_id
                )
            )
        elif self.viewer is not None and self.joins_set:
            theirs = visibility.assigned_ids(self.viewer.id).subquery()
            query = query.join(theirs, theirs.c.task_id == TaskHistory.task_id)
        elif self.viewer is not None:
            seen = select(Task.id).where(visibility.visible_to_as_set(self.viewer))
            query = query.where(TaskHistory.task_id.in_(seen))
        if self.filters.project:
            in_project = select(Task.id).where(Task.project == self.filters.project)
            query = query.where(TaskHistory.task_id.in_(in_project))
        if self.filters.actor is not None:
            query = query.where(TaskHistory.actor_id == self.filters.actor.id)
        return query


def parse_detail(text: str | None) -> Mapping[str, Any] | None:
    """A history row's detail as a mapping (text that is not a JSON object is wrapped)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}


# --- wording ---------------------------------------------------------------------------------


def counted(count: int, noun: str) -> str:
    """'1 task', '10,000 tasks'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


VERBS = {
    "create": "created",
    "edit": "edited",
    "delete": "deleted",
    "lock": "locked",
    "unlock": "released the lock of",
    "assign": "changed the assignment of",
}


def _parts(op: Operation) -> list[Part]:
    who = Part(op.actor_username or "the server", user_id=op.actor_id)
    detail = op.detail or {}
    if op.action == "assign" and detail.get("reassigned"):
        target = detail.get("to_user") or f"group {detail.get('to_group')}"
        sentence = " " + moved_sentence(
            actor="",
            count=op.count,
            from_user=str(detail.get("from_user")),
            target=str(target),
            offboarded=detail.get("offboarded") or {},
        )
        return [who, Part(sentence)]
    verb = VERBS.get(op.action, "changed")
    if op.action == "lock" and detail.get("claimed"):
        verb = "claimed"
    after = ""
    if op.action == "status":
        verb = "marked"
        after = f" {detail.get('new', 'changed')}"
    if op.action == "create" and op.projects:
        after = f" in {op.projects[0]}"
    parts = [who, Part(f" {verb} ")]
    if op.count == 1:
        parts.append(Part(f"task {op.task_id}", task_id=op.task_id))
    else:
        parts.append(Part(counted(op.count, "task")))
    if after:
        parts.append(Part(after))
    return parts


def moved_sentence(
    *, actor: str, count: int, from_user: str, target: str, offboarded: Mapping[str, Any]
) -> str:
    """'admin moved 63 tasks from bob to carol, set bob's weight to 0, deactivated bob'."""
    clauses = [f"moved {counted(count, 'task')} from {from_user} to {target}"]
    if offboarded.get("weight_zeroed"):
        clauses.append(f"set {from_user}'s weight to 0")
    if left := offboarded.get("groups_left"):
        clauses.append(f"removed {from_user} from {counted(left, 'group')}")
    if offboarded.get("deactivated"):
        clauses.append(f"deactivated {from_user}")
    return f"{actor} {', '.join(clauses)}".lstrip()
