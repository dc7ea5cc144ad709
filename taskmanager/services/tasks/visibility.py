"""Who may see a task: the rule, once, in the forms the fast paths need.

A viewer with `task_read_all` (admin, superuser) sees every task. Anyone else sees the tasks
assigned to them directly (task_users) or to a group they belong to (task_groups_assigned and
group_membership); a task assigned to nobody is seen only by those who read all. An account
that may not sign in (inactive, or unconfirmed where confirmation is required) sees nothing
because none of its requests gets past authentication (accounts.authentication.may_sign_in):
the conditions here take the viewer as signed in and do not look at `active`.

"Assigned to the user" comes in several SQL forms, each kept because a query plan needs it;
tests/services/tasks/test_visibility.py checks that every one selects the same tasks:

- `assigned_exists`: correlated EXISTS per task row, optionally fenced (single tasks, list
  pages walked in id order, task groups);
- `assigned_lookup`: per-row lookups by task id with LIMIT 1 (the claim's walk of the queue);
- `assigned_to`: one set of ids (list counts and set-based pages, aggregates); `assigned_ids`
  is that set itself, to join rows that name a task (the activity feed's history rows);
- `assigned_to_sets`: the direct and the group half as two sets, the user's groups read
  first (aggregates over many tasks: no merged set to build);
- `sees_at_least`: no SQL form but a bounded estimate, to choose between the forms above;
- `assigned_count`: the COUNT of that set from the link tables' indexes (list totals);
- `sees_group_tasks`: no SQL form but a shortcut: a member sees every task of their group, so
  a list narrowed to that group needs no condition of theirs.

`visible_to`, `visible_to_as_set` and `visible_to_as_sets` add the read-all half of the rule for a viewer.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Select,
    bindparam,
    func,
    literal,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.orm import Session

from ...models import (
    Task,
    User,
    group_membership,
    task_groups_assigned,
    task_users,
)
from ..accounts import permissions
from ..kit import references
from ..kit.errors import NotFound

UserId = int | BindParameter[Any]


def reads_all(user: User) -> bool:
    """Whether the user sees every task (task_read_all)."""
    return "task_read_all" in permissions.of(user)


def visible_to(user: User) -> ColumnElement[bool]:
    """SQL condition, checked per task row: the user may see the task."""
    return true() if reads_all(user) else assigned_exists(user.id)


def visible_to_as_set(user: User) -> ColumnElement[bool]:
    """SQL condition for aggregates: the user may see the task, as one id set, so the cost
    follows what the user has rather than the size of the table."""
    return true() if reads_all(user) else assigned_to(user.id)


def assigned_exists(
    user_id: UserId, *, fence: bool = False, task_id: Any = None
) -> ColumnElement[bool]:
    """SQL condition per task row: EXISTS a direct assignment OR EXISTS one through a group.

    With `fence`, OFFSET 0 keeps PostgreSQL from turning each EXISTS into a hash of every
    matching id, which it would build before returning the first row of a page. `task_id`
    is the column naming the task (Task.id when not given; say, a history row's task_id).
    """
    task = Task.id if task_id is None else task_id
    direct = select(literal(1)).where(task_users.c.task_id == task, task_users.c.user_id == user_id)
    via_group = select(literal(1)).where(
        task_groups_assigned.c.task_id == task,
        task_groups_assigned.c.group_id == group_membership.c.group_id,
        group_membership.c.user_id == user_id,
    )
    if fence:
        direct, via_group = direct.offset(0), via_group.offset(0)
    return direct.exists() | via_group.exists()


def assigned_lookup(user_id: UserId) -> ColumnElement[bool]:
    """SQL condition per task row, as lookups by task id that stop at the first match.

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


def assigned_to(user_id: int) -> ColumnElement[bool]:
    """SQL condition: the task's id is in the set of the user's tasks (direct or via a group).

    Counting and paging a user's tasks this way costs what the user has, not what the table has.
    """
    return Task.id.in_(assigned_ids(user_id))


def assigned_ids(user_id: int) -> CompoundSelect[Any]:
    """The set of the user's task ids (column `task_id`), direct or via a group: to JOIN rows
    that name a task against (MariaDB runs `IN (... UNION ...)` once per outer row)."""
    direct = select(task_users.c.task_id).where(task_users.c.user_id == user_id)
    via_group = (
        select(task_groups_assigned.c.task_id)
        .join(
            group_membership,
            group_membership.c.group_id == task_groups_assigned.c.group_id,
        )
        .where(group_membership.c.user_id == user_id)
    )
    return union(direct, via_group)


def assigned_to_sets(session: Session, *, user_id: int) -> ColumnElement[bool]:
    """SQL condition: the task's id is in the user's direct tasks OR in their groups' tasks,
    the user's groups read first.

    For aggregates over many tasks: the direct set is hashed once as it is, where `assigned_to`
    first merges both into one set without duplicates (on PostgreSQL at 100,000 tasks seen
    through a group, the merge cost about a third of a dashboard's summary). The group half is
    a lookup per task in the link table's primary key: as a set, a group of a million tasks
    no longer fits PostgreSQL's work_mem for hashing, and the set was then scanned again for
    every task (minutes at a million tasks).
    """
    group_ids = _group_ids(session, user_id)
    direct = Task.id.in_(select(task_users.c.task_id).where(task_users.c.user_id == user_id))
    if not group_ids:
        return direct
    via_group = (
        select(literal(1))
        .where(
            task_groups_assigned.c.task_id == Task.id,
            task_groups_assigned.c.group_id.in_(group_ids),
        )
        .exists()
    )
    return or_(direct, via_group)


def visible_to_as_sets(session: Session, *, user: User) -> ColumnElement[bool]:
    """SQL condition for aggregates over many tasks: `visible_to_as_set` with
    `assigned_to_sets` for those who do not read all."""
    return true() if reads_all(user) else assigned_to_sets(session, user_id=user.id)


def _group_ids(session: Session, user_id: int) -> list[int]:
    return list(
        session.scalars(
            select(group_membership.c.group_id).where(group_membership.c.user_id == user_id)
        )
    )


def sees_at_least(session: Session, *, user: User, count: int) -> bool:
    """Whether the user sees about `count` tasks or more, reading at most `count` entries of
    each link table's index: to choose between the per-row and the set forms, not to show.

    A task assigned through two of the user's groups (or directly too) may count twice.
    """
    if reads_all(user):
        return True
    group_ids = _group_ids(session, user.id)
    direct = select(task_users.c.task_id).where(task_users.c.user_id == user.id)
    parts = [direct]
    if group_ids:
        parts.append(
            select(task_groups_assigned.c.task_id).where(
                task_groups_assigned.c.group_id.in_(group_ids)
            )
        )
    found = 0
    for part in parts:
        found += session.scalar(select(func.count()).select_from(part.limit(count).subquery())) or 0
    return found >= count


def assigned_count(session: Session, *, user_id: int) -> Select[Any]:
    """COUNT of the tasks assigned to a user directly or through their groups.

    The user's groups are read first so that the count reads only the link tables' indexes.
    """
    group_ids = _group_ids(session, user_id)
    direct = select(task_users.c.task_id).where(task_users.c.user_id == user_id)
    has_direct = bool(session.scalar(select(direct.exists())))
    if not group_ids:
        return select(func.count()).select_from(direct.subquery())
    if not has_direct and len(group_ids) == 1:
        # The common case (one group, nothing direct) needs no de-duplication: one index range.
        return select(func.count()).where(task_groups_assigned.c.group_id == group_ids[0])
    ids = union(
        direct,
        select(task_groups_assigned.c.task_id).where(
            task_groups_assigned.c.group_id.in_(group_ids)
        ),
    ).subquery()
    return select(func.count()).select_from(ids)


def sees_group_tasks(session: Session, *, user: User, group_id: int) -> bool:
    """Whether the user sees every task assigned to the group: they read all tasks or they
    are one of its members (so a list narrowed to the group needs no condition of theirs)."""
    if reads_all(user):
        return True
    member = select(group_membership.c.user_id).where(
        group_membership.c.group_id == group_id, group_membership.c.user_id == user.id
    )
    return session.scalar(member.limit(1)) is not None


@functools.cache
def _visible_task_query(all_tasks: bool) -> Select[Task]:
    """One task by id if the user may see it; built once, values bound per call."""
    query = select(Task).where(Task.id == bindparam("visible_task_id"))
    if all_tasks:
        return query
    return query.where(assigned_exists(bindparam("visible_user_id")))


def get_visible_or_raise(session: Session, *, task_id: int | str, user: User) -> Task:
    """The task if it exists and the user may see it; otherwise 404 (never reveal existence)."""
    number = references.as_id(task_id)
    if number is None:
        raise NotFound(f"Task {task_id!r} does not exist", field="task")
    query = _visible_task_query(reads_all(user))
    task = session.scalars(query, {"visible_task_id": number, "visible_user_id": user.id}).first()
    if task is None:
        raise NotFound(f"Task {number} does not exist", field="task")
    return task
