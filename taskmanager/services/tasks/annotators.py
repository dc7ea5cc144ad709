"""Progress per annotator: who holds what, who did what, and who is behind or idle.

For a scope (every task the viewer sees, or one project's; optionally only the members of one
group) there is one row per user, counted by the database in three GROUP BY queries over the
tasks the viewer sees (visibility.visible_to):

- assigned: tasks assigned to the user directly (task_users). Tasks that reach them only
  through a group are not counted: a group's task belongs to no one member until someone locks
  it or does it, and then it shows as locked or done;
- open: the assigned tasks that are not closed (statuses.CLOSED_STATUSES);
- locked: tasks whose lock the user holds, and when the oldest of those locks was taken;
- done: tasks in status `done` that the user marked done (done_by), and those done in the last
  RECENT_DAYS days;
- last activity: the newer of their newest done time and their newest lock still held. These
  are columns of the tasks already scanned; the history table is not read, so a lock taken and
  released again without finishing the task leaves no trace here.

Shares: a user's expected share of the work is their assignment_weight over the sum of the
weights of the active users in the scope; their actual share is their done over the done of
everyone in the scope. A user is *behind* when their actual share is below BEHIND_RATIO of the
expected one, once the scope holds at least MIN_DONE_FOR_SHARES done tasks (before that, shares
are noise). A user is *idle* when they have open or locked work and no activity in the last
IDLE_DAYS days (or none at all).

Only viewers who read all tasks see other people's rows. Anyone else gets their own row only,
without shares: a share of oneself says nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Executable, case, func, select
from sqlalchemy.orm import Session

from ...models import CLOSED_STATUSES, Group, Task, TaskStatus, User, group_membership, task_users
from . import visibility

RECENT_DAYS = 7
IDLE_DAYS = 3
# Behind: the actual share of the done work under half the share the weight asks for.
BEHIND_RATIO = 0.5
MIN_DONE_FOR_SHARES = 10

ANNOTATOR_SORTS = (
    "username",
    "weight",
    "assigned",
    "open",
    "locked",
    "oldest_lock",
    "done",
    "done_recent",
    "last_activity",
    "expected_share",
    "actual_share",
)


@dataclass
class AnnotatorRow:
    """One user's work in a scope (see the module's docstring for what each number counts)."""

    user_id: int
    username: str
    name: str | None
    active: bool
    weight: float
    assigned: int = 0
    open: int = 0
    locked: int = 0
    oldest_lock: datetime | None = None
    newest_lock: datetime | None = None
    done: int = 0
    done_recent: int = 0
    last_done: datetime | None = None
    expected_share: float | None = None
    actual_share: float | None = None
    behind: bool = False
    idle: bool = False

    @property
    def last_activity(self) -> datetime | None:
        times = [t for t in (self.last_done, self.newest_lock) if t is not None]
        return max(times) if times else None


def list_annotators(
    session: Session,
    *,
    viewer: User,
    project: str | None = None,
    group: Group | None = None,
    sort: str = "username",
    now: datetime | None = None,
) -> list[AnnotatorRow]:
    """One row per user with work in the scope (every member, for a group), sorted by `sort`."""
    now = now or datetime.now(UTC)
    in_project: list[ColumnElement[bool]] = [] if project is None else [Task.project == project]
    others = visibility.reads_all(viewer)
    people: list[int] | None = None
    if group is not None:
        members = select(group_membership.c.user_id).where(group_membership.c.group_id == group.id)
        people = list(session.scalars(members))
    if not others:
        people = [viewer.id] if people is None or viewer.id in people else []
    rows = _add_users(session, _counted_rows(session, viewer, in_project, people, now), people)
    if others:
        _judge_shares(rows.values())
    _judge_idleness(rows.values(), now)
    return sort_rows(list(rows.values()), sort)


def _counted_rows(
    session: Session,
    viewer: User,
    in_project: list[ColumnElement[bool]],
    people: Sequence[int] | None,
    now: datetime,
) -> dict[int, dict[str, Any]]:
    """The three aggregates, merged by user id.

    For a viewer who reads all, the rule of who sees a task is no condition; anyone else gets
    only their own row: their locks and done tasks are checked one by one (_seen_where), and
    the tasks assigned to them directly are theirs to see, so that count needs no check.
    """

    def among(column: Any) -> list[ColumnElement[bool]]:
        return [] if people is None else [column.in_(people)]

    is_open = case((Task.status.not_in([s.value for s in CLOSED_STATUSES]), 1), else_=0)
    assigned = (
        select(task_users.c.user_id, func.count(), func.sum(is_open))
        .join(Task, Task.id == task_users.c.task_id)
        .where(*in_project, *among(task_users.c.user_id))
        .group_by(task_users.c.user_id)
    )
    locked = (
        select(Task.lock_id, func.count(), func.min(Task.lock_time), func.max(Task.lock_time))
        .where(*_seen_where(viewer, Task.lock_id.is_not(None), *in_project, *among(Task.lock_id)))
        .group_by(Task.lock_id)
    )
    recent = case((Task.done_time >= now - timedelta(days=RECENT_DAYS), 1), else_=0)
    done = (
        select(Task.done_by_id, func.count(), func.sum(recent), func.max(Task.done_time))
        .where(
            *_seen_where(
                viewer,
                Task.status == TaskStatus.DONE.value,
                Task.done_by_id.is_not(None),
                *in_project,
                *among(Task.done_by_id),
            )
        )
        .group_by(Task.done_by_id)
    )
    rows: dict[int, dict[str, Any]] = {}
    for user_id, count, open_count in _untyped(session, assigned):
        rows.setdefault(user_id, {}).update(assigned=count, open=int(open_count or 0))
    for user_id, count, oldest, newest in _untyped(session, locked):
        rows.setdefault(user_id, {}).update(locked=count, oldest_lock=oldest, newest_lock=newest)
    for user_id, count, recent_count, last in _untyped(session, done):
        rows.setdefault(user_id, {}).update(
            done=count, done_recent=int(recent_count or 0), last_done=last
        )
    return rows


def _seen_where(viewer: User, *conditions: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """Conditions on tasks, and that the viewer sees them, for conditions that leave few tasks
    (one person's locks or done tasks) for a viewer who does not read all.

    The conditions pick the tasks first behind a fence (OFFSET 0), then the rule is checked on
    each of those (visibility.assigned_exists, fenced too). Otherwise PostgreSQL hashes every
    task the viewer's groups hold, or reckons the check for every row of the table and, at that
    cost, compiles the query (JIT) before running it: 10 ms of work took 200 ms.
    """
    if visibility.reads_all(viewer):
        return list(conditions)
    # Not correlated: the inner `tasks` is its own table, however the outer query names it. A
    # derived table, as MariaDB takes no LIMIT/OFFSET directly inside IN.
    candidates = select(Task.id).where(*conditions).offset(0).correlate(None).subquery()
    return [
        Task.id.in_(select(candidates.c.id)),
        visibility.assigned_exists(viewer.id, fence=True),
    ]


def _untyped(session: Session, query: Executable) -> Iterable[Any]:
    """The rows of an aggregate (SQLAlchemy types the columns of SUM and CASE loosely)."""
    return session.execute(query)


def _add_users(
    session: Session, counts: dict[int, dict[str, Any]], people: Sequence[int] | None
) -> dict[int, AnnotatorRow]:
    """Rows with each user's name and weight beside their counts (one query)."""
    wanted = set(counts) | set(people or ())
    users = session.execute(
        select(User.id, User.username, User.name, User.active, User.assignment_weight).where(
            User.id.in_(wanted)
        )
    )
    rows: dict[int, AnnotatorRow] = {}
    for user_id, username, name, active, weight in users:
        rows[user_id] = AnnotatorRow(
            user_id, username, name, bool(active), float(weight or 0), **counts.get(user_id, {})
        )
    return rows


def _judge_shares(rows: Iterable[AnnotatorRow]) -> None:
    rows = list(rows)
    weights = sum(row.weight for row in rows if row.active and row.weight > 0)
    done = sum(row.done for row in rows)
    for row in rows:
        row.actual_share = row.done / done if done else None
        if row.active and weights > 0:
            row.expected_share = max(row.weight, 0) / weights
        row.behind = (
            done >= MIN_DONE_FOR_SHARES
            and row.expected_share is not None
            and row.expected_share > 0
            and (row.actual_share or 0) < BEHIND_RATIO * row.expected_share
        )


def _judge_idleness(rows: Iterable[AnnotatorRow], now: datetime) -> None:
    quiet_since = now - timedelta(days=IDLE_DAYS)
    for row in rows:
        last = row.last_activity
        row.idle = bool(row.open or row.locked) and (last is None or last < quiet_since)


def sort_rows(rows: list[AnnotatorRow], sort: str) -> list[AnnotatorRow]:
    """Rows by one of ANNOTATOR_SORTS (`-key` descending); rows without a value go last."""
    key = sort.lstrip("-")
    if key not in ANNOTATOR_SORTS:
        key, sort = "username", "username"
    descending = sort.startswith("-")
    valued = [row for row in rows if getattr(row, key) is not None]
    missing = [row for row in rows if getattr(row, key) is None]
    valued.sort(key=lambda row: row.username)
    valued.sort(key=lambda row: getattr(row, key), reverse=descending)
    missing.sort(key=lambda row: row.username)
    return valued + missing
