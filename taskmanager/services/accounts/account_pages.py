"""Users and groups pages for browsing (web UI), with per-row counts in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ...models import (
    Group,
    Role,
    Task,
    User,
    group_membership,
    roles_users,
    task_groups_assigned,
    task_users,
)
from ..kit import pages, paging
from ..kit.paging import Page
from . import permissions


@dataclass
class UserRow:
    user: User
    open_tasks: int = 0  # assigned directly
    roles: list[str] = field(default_factory=list)


USER_SORTS = ("username", "name", "email", "create_time", "assignment_weight", "open_tasks")


def _open_tasks_per_user(user_ids: list[int] | None = None) -> Any:
    """Subquery (user_id, n): open tasks assigned to each user directly.

    Tasks of their groups are shared work and are not counted: a group may hold 100,000 tasks,
    and counting them for every member of a page would read them all once per member.
    """
    query = (
        select(task_users.c.user_id, func.count().label("n"))
        .join(Task, Task.id == task_users.c.task_id)
        .where(pages.open_condition())
    )
    if user_ids is not None:
        query = query.where(task_users.c.user_id.in_(user_ids))
    return query.group_by(task_users.c.user_id).subquery()


def users_page(
    session: Session,
    *,
    search: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    sort: str = "username",
    offset: int = 0,
    limit: int = 50,
) -> Page[UserRow]:
    """Users matching a text search (username, name, e-mail), a role and active state."""
    query = select(User)
    condition = pages.matches((User.username, User.name, User.email), search)
    if condition is not None:
        query = query.where(condition)
    if role:
        query = query.where(
            User.id.in_(
                select(roles_users.c.user_id)
                .join(Role, Role.id == roles_users.c.role_id)
                .where(Role.name == role)
            )
        )
    if active is not None:
        query = query.where(User.active.is_(active))
    if sort.lstrip("-") == "open_tasks":
        counts = _open_tasks_per_user()
        query = query.outerjoin(counts, counts.c.user_id == User.id)
        columns: dict[str, Any] = {"open_tasks": func.coalesce(counts.c.n, 0)}
    else:
        columns = {key: getattr(User, key) for key in USER_SORTS if key != "open_tasks"}
    page = paging.page(
        session, pages.ordered(query, columns, sort, User.id), offset=offset, limit=limit
    )
    ids = [user.id for user in page.items]
    per_user = _open_tasks_per_user(ids)
    open_counts = pages.counts(session, select(per_user.c.user_id, per_user.c.n)) if ids else {}
    rows = [
        UserRow(
            user=user,
            open_tasks=open_counts.get(user.id, 0),
            roles=sorted(role.name for role in user.roles),
        )
        for user in page.items
    ]
    return page.with_items(rows)


def role_names(session: Session) -> list[str]:
    return list(session.scalars(select(Role.name).order_by(Role.name)))


# --- groups ----------------------------------------------------------------------------------


@dataclass
class GroupRow:
    group: Group
    members: int = 0
    open_tasks: int = 0


GROUP_SORTS = ("groupname", "name", "create_time", "members")


def groups_page(
    session: Session,
    *,
    viewer: User,
    search: str | None = None,
    sort: str = "groupname",
    offset: int = 0,
    limit: int = 50,
) -> Page[GroupRow]:
    """Groups the viewer may read (all with group_read_all, else their own), with counts."""
    query = select(Group)
    if "group_read_all" not in permissions.of(viewer):
        query = query.where(
            Group.id.in_(
                select(group_membership.c.group_id).where(group_membership.c.user_id == viewer.id)
            )
        )
    condition = pages.matches((Group.groupname, Group.name), search)
    if condition is not None:
        query = query.where(condition)
    members = (
        select(group_membership.c.group_id, func.count().label("n"))
        .group_by(group_membership.c.group_id)
        .subquery()
    )
    columns: dict[str, Any] = {
        "groupname": Group.groupname,
        "name": Group.name,
        "create_time": Group.create_time,
    }
    if sort.lstrip("-") == "members":
        query = query.outerjoin(members, members.c.group_id == Group.id)
        columns["members"] = func.coalesce(members.c.n, 0)
    page = paging.page(
        session, pages.ordered(query, columns, sort, Group.id), offset=offset, limit=limit
    )
    ids = [group.id for group in page.items]
    member_counts = pages.counts(
        session,
        select(group_membership.c.group_id, func.count())
        .where(group_membership.c.group_id.in_(ids))
        .group_by(group_membership.c.group_id),
    )
    task_counts = pages.counts(
        session,
        select(task_groups_assigned.c.group_id, func.count())
        .join(Task, Task.id == task_groups_assigned.c.task_id)
        .where(task_groups_assigned.c.group_id.in_(ids), pages.open_condition())
        .group_by(task_groups_assigned.c.group_id),
    )
    rows = [
        GroupRow(group=g, members=member_counts.get(g.id, 0), open_tasks=task_counts.get(g.id, 0))
        for g in page.items
    ]
    return page.with_items(rows)


def groups_of(session: Session, *, user: User) -> list[Group]:
    """The groups the user is a member of, by group name."""
    query = (
        select(Group)
        .join(group_membership, group_membership.c.group_id == Group.id)
        .where(group_membership.c.user_id == user.id)
        .order_by(Group.groupname)
    )
    return list(session.scalars(query))


def members_of(session: Session, *, group: Group) -> list[User]:
    """The group's members, by username."""
    query = (
        select(User)
        .join(group_membership, group_membership.c.user_id == User.id)
        .where(group_membership.c.group_id == group.id)
        .order_by(User.username)
    )
    return list(session.scalars(query))


def user_choices(session: Session, *, active_only: bool = True) -> list[tuple[int, str]]:
    """(id, "username (name)") of users, for choosing one in a form."""
    query = select(User.id, User.username, User.name).order_by(User.username)
    if active_only:
        query = query.where(User.active.is_(True))
    return [
        (user_id, f"{username} ({name})" if name and name != username else username)
        for user_id, username, name in session.execute(query)
    ]


def group_choices(session: Session) -> list[tuple[int, str]]:
    """(id, groupname) of every group, for choosing one in a form."""
    query = select(Group.id, Group.groupname).order_by(Group.groupname)
    return [(group_id, groupname) for group_id, groupname in session.execute(query)]


def mail_addresses(
    session: Session, *, user_ids: Iterable[int] = (), group_ids: Iterable[int] = ()
) -> list[str]:
    """The e-mail addresses of the active users named and of the groups' active members."""
    members = select(group_membership.c.user_id).where(
        group_membership.c.group_id.in_(list(group_ids))
    )
    query = (
        select(User.email)
        .where(User.active.is_(True), or_(User.id.in_(list(user_ids)), User.id.in_(members)))
        .distinct()
        .order_by(User.email)
    )
    return list(session.scalars(query))


# --- tasks -----------------------------------------------------------------------------------
