"""Lists for browsing (web UI): filtered, sorted pages with per-row counts in a fixed number of
queries, whatever the page size."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, case, func, not_, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from ..models import (
    Group,
    Role,
    Tag,
    Task,
    TaskGroup,
    TaskTemplate,
    User,
    group_membership,
    roles_users,
    task_groups_assigned,
    task_tags,
    task_users,
)
from . import dashboard, locks, permissions, task_lists, taskgroups
from .dashboard import Progress
from .typed_rows import as_tuples

T = TypeVar("T")

# Statuses after which a task needs nobody any more; every other status is open.
CLOSED_STATUSES = ("done", "aborted")


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int


# A query selecting any columns (Select is generic in each column selected).
AnySelect = Select[*tuple[Any, ...]]


def _ordered(query: AnySelect, columns: Mapping[str, Any], sort: str, tiebreak: Any) -> AnySelect:
    """Order by `sort` (a key of `columns`, "-key" descending), then by the tiebreak column."""
    descending = sort.startswith("-")
    column = columns.get(sort.lstrip("-"), tiebreak)
    if descending:
        return query.order_by(column.desc(), tiebreak.desc())
    return query.order_by(column.asc(), tiebreak.asc())


def _page(
    session: Session, query: AnySelect, offset: int, limit: int, *, rows: bool = False
) -> Page[Any]:
    """The slice and the number of rows the query selects (counted by the database)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items: list[Any] = []
    offset = max(offset, 0)
    # A page past the last is empty: its offset need not reach the database (nor fit its ints).
    if offset < total:
        sliced = query.offset(offset).limit(limit)
        items = (
            [tuple(row) for row in session.execute(sliced)]
            if rows
            else list(session.scalars(sliced))
        )
    return Page(items=items, total=int(total))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _matches(columns: Iterable[Any], search: str | None) -> ColumnElement[bool] | None:
    if not search or not search.strip():
        return None
    pattern = _like(search.strip())
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns))


def _open() -> ColumnElement[bool]:
    return Task.status.not_in(CLOSED_STATUSES)


# --- users -----------------------------------------------------------------------------------


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
        .where(_open())
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
    condition = _matches((User.username, User.name, User.email), search)
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
    page = _page(session, _ordered(query, columns, sort, User.id), offset, limit)
    ids = [user.id for user in page.items]
    per_user = _open_tasks_per_user(ids)
    open_counts = _counts(session, select(per_user.c.user_id, per_user.c.n)) if ids else {}
    rows = [
        UserRow(
            user=user,
            open_tasks=open_counts.get(user.id, 0),
            roles=sorted(role.name for role in user.roles),
        )
        for user in page.items
    ]
    return Page(items=rows, total=page.total)


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
    condition = _matches((Group.groupname, Group.name), search)
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
    page = _page(session, _ordered(query, columns, sort, Group.id), offset, limit)
    ids = [group.id for group in page.items]
    member_counts = _counts(
        session,
        select(group_membership.c.group_id, func.count())
        .where(group_membership.c.group_id.in_(ids))
        .group_by(group_membership.c.group_id),
    )
    task_counts = _counts(
        session,
        select(task_groups_assigned.c.group_id, func.count())
        .join(Task, Task.id == task_groups_assigned.c.task_id)
        .where(task_groups_assigned.c.group_id.in_(ids), _open())
        .group_by(task_groups_assigned.c.group_id),
    )
    rows = [
        GroupRow(group=g, members=member_counts.get(g.id, 0), open_tasks=task_counts.get(g.id, 0))
        for g in page.items
    ]
    return Page(items=rows, total=page.total)


def _counts(session: Session, query: AnySelect) -> dict[Any, int]:
    return {key: count for key, count in as_tuples(session.execute(query))}


# --- tags and templates ----------------------------------------------------------------------


@dataclass
class CountedRow(Generic[T]):
    """An object with the number of its tasks the viewer sees, and how many are open."""

    item: T
    tasks: int = 0
    open_tasks: int = 0


def _task_counts(
    session: Session, viewer: User, key: Any, ids: list[int], join: Any = None
) -> dict[int, tuple[int, int]]:
    if not ids:
        return {}
    open_count = func.sum(case((_open(), 1), else_=0))
    query = select(key, func.count(), open_count).select_from(Task)
    if join is not None:
        query = query.join(join, join.c.task_id == Task.id)
    query = query.where(key.in_(ids), dashboard.visible(viewer)).group_by(key)
    rows = as_tuples(session.execute(query))
    return {row_key: (total, int(open_ or 0)) for row_key, total, open_ in rows}


TAG_SORTS = ("name", "id")


def tags_page(
    session: Session,
    *,
    viewer: User,
    search: str | None = None,
    sort: str = "name",
    offset: int = 0,
    limit: int = 50,
) -> Page[CountedRow[Tag]]:
    query = select(Tag)
    condition = _matches((Tag.name,), search)
    if condition is not None:
        query = query.where(condition)
    columns = {"name": Tag.name, "id": Tag.id}
    page = _page(session, _ordered(query, columns, sort, Tag.id), offset, limit)
    counts = _task_counts(
        session, viewer, task_tags.c.tag_id, [tag.id for tag in page.items], join=task_tags
    )
    return Page(
        items=[CountedRow(tag, *counts.get(tag.id, (0, 0))) for tag in page.items],
        total=page.total,
    )


TEMPLATE_SORTS = ("label", "id")


def templates_page(
    session: Session,
    *,
    viewer: User,
    search: str | None = None,
    sort: str = "label",
    offset: int = 0,
    limit: int = 50,
) -> Page[CountedRow[TaskTemplate]]:
    query = select(TaskTemplate)
    condition = _matches((TaskTemplate.label,), search)
    if condition is not None:
        query = query.where(condition)
    columns = {"label": TaskTemplate.label, "id": TaskTemplate.id}
    page = _page(session, _ordered(query, columns, sort, TaskTemplate.id), offset, limit)
    counts = _task_counts(session, viewer, Task.template_id, [t.id for t in page.items])
    return Page(
        items=[CountedRow(t, *counts.get(t.id, (0, 0))) for t in page.items],
        total=page.total,
    )


# --- task groups -----------------------------------------------------------------------------


@dataclass
class TaskGroupRow:
    taskgroup: TaskGroup
    status: str
    progress: Progress


TASKGROUP_SORTS = ("id", "label", "create_time")


def taskgroups_page(
    session: Session,
    *,
    viewer: User,
    search: str | None = None,
    status: str | None = None,
    sort: str = "-id",
    offset: int = 0,
    limit: int = 50,
) -> Page[TaskGroupRow]:
    """Task groups the viewer sees, with their status and their tasks counted by status."""
    group_status = taskgroups.status_expression()
    query = select(TaskGroup, group_status.label("status")).where(taskgroups.visible_to(viewer))
    condition = _matches((TaskGroup.label,), search)
    if condition is not None:
        query = query.where(condition)
    if status:
        query = query.where(group_status == status)
    columns = {"id": TaskGroup.id, "label": TaskGroup.label, "create_time": TaskGroup.create_time}
    page = _page(session, _ordered(query, columns, sort, TaskGroup.id), offset, limit, rows=True)
    progress = dashboard.progress_of_taskgroups(
        session, viewer=viewer, ids=[group.id for group, _ in page.items]
    )
    rows = [
        TaskGroupRow(group, group_status, progress.get(group.id) or Progress(group.id, group.label))
        for group, group_status in page.items
    ]
    return Page(items=rows, total=page.total)


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

TASK_SORTS = ("id", "status", "project", "update_time", "create_time")


def tasks_page(
    session: Session,
    *,
    viewer: User,
    project: str | None = None,
    template: str | None = None,
    user: str | None = None,
    group: Group | None = None,
    taskgroup: TaskGroup | None = None,
    status: str | None = None,
    open_only: bool = False,
    tags: Sequence[str] = (),
    sort: str = "id",
    offset: int = 0,
    limit: int = 50,
) -> Page[Task]:
    """Tasks the viewer sees, filtered as the task list API filters them, in any order offered.

    A page costs a fixed number of queries: the count, the tasks (with template and lock
    holder), and one each for their users, groups and tags. The API's filters go through the
    task list service, which also counts them and (in id order) pages them at the API's speed.
    """
    api_filters: dict[str, Any] = {
        "viewer": viewer,
        "project": project,
        "template": template,
        "user": user,
        "status": status,
        "tags": tags,
    }
    extra: list[ColumnElement[bool]] = []
    if group is not None:
        extra.append(
            Task.id.in_(
                select(task_groups_assigned.c.task_id).where(
                    task_groups_assigned.c.group_id == group.id
                )
            )
        )
    if taskgroup is not None:
        extra.append(Task.taskgroup_id == taskgroup.id)
    if open_only:
        extra.append(_open())
    if not extra and sort == "id":
        # The API's own order: the task list service pages it at the API's speed.
        listed = task_lists.list_page(session, **api_filters, offset=offset, limit=limit)
        ids = [summary.id for summary in listed.items]
        return Page(items=_load_tasks(session, ids), total=listed.total)
    conditions = task_lists.filter_conditions(session, **api_filters) + extra
    columns = {key: getattr(Task, key) for key in TASK_SORTS}
    query = _ordered(select(Task).where(*conditions), columns, sort, Task.id).options(*_TASK_ROW)
    if extra:
        return _page(session, query, offset, limit)
    # The task list service counts the API's filters from the link tables' indexes where it can.
    total = task_lists.list_page(session, **api_filters, limit=0).total
    rows: Iterable[Task] = (
        session.scalars(query.offset(max(offset, 0)).limit(limit)) if total else []
    )
    return Page(items=list(rows), total=total)


# What a row of a task table shows besides the task's own columns.
_TASK_ROW = (
    joinedload(Task.lock),
    selectinload(Task.users),
    selectinload(Task.groups),
    selectinload(Task.tags),
)


def _load_tasks(session: Session, ids: list[int]) -> list[Task]:
    """The tasks with these ids, in this order, with what a task table row shows."""
    if not ids:
        return []
    found = {
        task.id: task
        for task in session.scalars(select(Task).where(Task.id.in_(ids)).options(*_TASK_ROW))
    }
    return [found[task_id] for task_id in ids if task_id in found]


def _distinct(session: Session, column: Any) -> list[str]:
    """The distinct values of an indexed column in order: one index probe per value."""
    values = select(func.min(column).label("v")).cte("distinct_values", recursive=True)
    following = select(select(func.min(column)).where(column > values.c.v).scalar_subquery())
    values = values.union_all(following.where(values.c.v.is_not(None)))
    return list(session.scalars(select(values.c.v).where(values.c.v.is_not(None))))


def projects(session: Session) -> list[str]:
    """Every project name in use, by name (for choosing one; like template labels, not secret)."""
    return _distinct(session, Task.project)


def statuses(session: Session) -> list[str]:
    """Every status in use."""
    return _distinct(session, Task.status)


def template_labels(session: Session) -> list[str]:
    return list(session.scalars(select(TaskTemplate.label).order_by(TaskTemplate.label)))


def tag_names(session: Session) -> list[str]:
    return list(session.scalars(select(Tag.name).order_by(Tag.name)))


def usernames(session: Session) -> list[str]:
    return list(session.scalars(select(User.username).order_by(User.username)))


def held_locks(session: Session, *, task_ids: Sequence[int], timeout: float | None) -> set[int]:
    """Which of these tasks are locked now (a lapsed lease does not count)."""
    if not task_ids:
        return set()
    query = select(Task.id).where(Task.id.in_(list(task_ids)), not_(locks.free_condition(timeout)))
    return set(session.scalars(query))
