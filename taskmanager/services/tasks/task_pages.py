"""Tasks, tags and templates pages for browsing (web UI), with the viewer's task counts per row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.orm import Session, joinedload, selectinload

from ...models import (
    Group,
    Tag,
    Task,
    TaskGroup,
    TaskStatus,
    TaskTemplate,
    User,
    task_groups_assigned,
    task_tags,
)
from ..kit import pages, paging, references
from ..kit.paging import Page
from ..kit.typed_rows import as_tuples
from . import lists, visibility

T = TypeVar("T")


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
    open_count = func.sum(case((pages.open_condition(), 1), else_=0))
    query = select(key, func.count(), open_count).select_from(Task)
    if join is not None:
        query = query.join(join, join.c.task_id == Task.id)
    query = query.where(key.in_(ids), visibility.visible_to_as_set(viewer)).group_by(key)
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
    condition = pages.matches((Tag.name,), search)
    if condition is not None:
        query = query.where(condition)
    columns = {"name": Tag.name, "id": Tag.id}
    page = paging.page(
        session, pages.ordered(query, columns, sort, Tag.id), offset=offset, limit=limit
    )
    counts = _task_counts(
        session, viewer, task_tags.c.tag_id, [tag.id for tag in page.items], join=task_tags
    )
    return page.with_items([CountedRow(tag, *counts.get(tag.id, (0, 0))) for tag in page.items])


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
    condition = pages.matches((TaskTemplate.label,), search)
    if condition is not None:
        query = query.where(condition)
    columns = {"label": TaskTemplate.label, "id": TaskTemplate.id}
    page = paging.page(
        session, pages.ordered(query, columns, sort, TaskTemplate.id), offset=offset, limit=limit
    )
    counts = _task_counts(session, viewer, Task.template_id, [t.id for t in page.items])
    return page.with_items([CountedRow(t, *counts.get(t.id, (0, 0))) for t in page.items])


# --- task groups -----------------------------------------------------------------------------


TASK_SORTS = (
    "id",
    "status",
    "project",
    "update_time",
    "create_time",
    "tracking_id",
    "priority",
    "due",
)
# Most distinct statuses offered as choices (clients may invent any number).
STATUS_CHOICES_MAX = 200


@dataclass(frozen=True)
class TaskSearch:
    """What the task list's search box and the filters the API lacks ask for.

    `tracking_id` matches exactly, or as a prefix with `tracking_prefix`; `text` is a
    case-insensitive substring of the content or the tracking id; `done_by` a username.
    """

    tracking_id: str | None = None
    tracking_prefix: bool = False
    text: str | None = None
    done_by: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.tracking_id:
            if self.tracking_prefix:
                found.append(Task.tracking_id.startswith(self.tracking_id, autoescape=True))
            else:
                found.append(Task.tracking_id == self.tracking_id)
        text = pages.matches((Task.raw_content, Task.tracking_id), self.text)
        if text is not None:
            found.append(text)
        if self.done_by:
            found.append(Task.done_by_id.in_(select(User.id).where(User.username == self.done_by)))
        return found


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
    search: TaskSearch | None = None,
    conditions: Sequence[ColumnElement[bool]] = (),
    sort: str = "id",
    offset: int = 0,
    limit: int = 50,
    total: int | None = None,
) -> Page[Task]:
    """Tasks the viewer sees, filtered as the task list API filters them, in any order offered.

    `search` adds the web's own filters; `conditions` more SQL conditions from the service
    packages above this one (say, "locked" by the lease rule of dispensing.locks). `total` is
    the number of tasks so selected when the caller has counted them already.

    A page costs a fixed number of queries: the count, the tasks (with template and lock
    holder), and one each for their users, groups and tags. The API's filters go through the
    task list service, which also counts them and (in id order) pages them at the API's speed.
    """
    api_filters: dict[str, Any] = {
        "viewer": viewer,
        "filters": lists.Filters(
            project=project, template=template, user=user, status=status, tags=tags
        ),
    }
    extra: list[ColumnElement[bool]] = [*conditions]
    if search is not None:
        extra += search.conditions()
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
        extra.append(pages.open_condition())
    if not extra and sort == "id":
        # The API's own order: the task list service pages it at the API's speed.
        listed = lists.list_page(session, **api_filters, offset=offset, limit=limit)
        ids = [summary.id for summary in listed.items]
        return listed.with_items(_load_tasks(session, ids))
    # A member sees all of their group's tasks: narrowed to the group, the viewer's own
    # condition would only make the database look up the same tasks twice.
    seen_anyway = group is not None and visibility.sees_group_tasks(
        session, user=viewer, group_id=group.id
    )
    conditions = lists.filter_conditions(session, **api_filters, seen_anyway=seen_anyway) + extra
    if total is None and not extra:
        # The task list service counts the API's filters from the link tables' indexes where
        # it can.
        total = lists.list_page(session, **api_filters, limit=0).total
    elif total is None:
        total = paging.count(session, select(Task.id).where(*conditions))
    if _walks_in_id_order(sort, offset, total):
        conditions = (
            lists.filter_conditions(session, **api_filters, seen_anyway=seen_anyway, per_row=True)
            + extra
        )
    query = _ordered(select(Task).where(*conditions), sort).options(*_TASK_ROW)
    cap = paging.MAX_TASK_PAGE_SIZE
    return paging.page(session, query, offset=offset, limit=limit, cap=cap, total=total)


def _ordered(query: Any, sort: str) -> Any:
    """Tasks in a TASK_SORTS order; by due date, the tasks without one come last either way."""
    if sort.lstrip("-") == "due":
        query = query.order_by(Task.due.is_(None))
    columns = {key: getattr(Task, key) for key in TASK_SORTS}
    return pages.ordered(query, columns, sort, Task.id)


def _walks_in_id_order(sort: str, offset: int, total: int) -> bool:
    """Whether a page is cheaper found by walking tasks in id order and checking each (as the
    task list service does): a shallow page, in id order, of many tasks."""
    return (
        sort.lstrip("-") == "id" and total > lists.SET_BASED_MAX and offset < lists.SHALLOW_OFFSET
    )


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


def _distinct(session: Session, column: Any, limit: int | None = None) -> list[str]:
    """The distinct values of an indexed column in order: one index probe per value.

    With `limit`, the walk stops after that many values.
    """
    values = select(func.min(column).label("v"), literal(1).label("n")).cte(
        "distinct_values", recursive=True
    )
    following = select(
        select(func.min(column)).where(column > values.c.v).scalar_subquery(), values.c.n + 1
    ).where(values.c.v.is_not(None))
    if limit is not None:
        following = following.where(values.c.n < limit)
    values = values.union_all(following)
    return list(session.scalars(select(values.c.v).where(values.c.v.is_not(None))))


def projects(session: Session) -> list[str]:
    """Every project name in use, by name (for choosing one; like template labels, not secret)."""
    return _distinct(session, Task.project)


def statuses(session: Session, *, limit: int | None = None) -> list[str]:
    """Every status in use (the first `limit` in order, when given)."""
    return _distinct(session, Task.status, limit)


def status_choices(session: Session, *, keep: Sequence[str] = ()) -> list[str]:
    """Statuses to choose from: the known ones first, then those clients use (capped at
    STATUS_CHOICES_MAX), then `keep` (say, the task's own) when the cap left it out."""
    known = [status.value for status in TaskStatus]
    in_use = statuses(session, limit=STATUS_CHOICES_MAX)
    chosen = known + sorted(set(in_use) - set(known))
    return chosen + [status for status in keep if status not in chosen]


def locate(session: Session, *, viewer: User, reference: str, limit: int = 2) -> list[int]:
    """Ids of the tasks the viewer sees that `reference` names: the task with that id when
    there is one, else those with that tracking id (at most `limit`, by id)."""
    reference = reference.strip()
    number = references.as_id(reference.lstrip("#")) if reference.lstrip("#").isdigit() else None
    visible = visibility.visible_to(viewer)
    if number is not None:
        found = session.scalar(select(Task.id).where(Task.id == number, visible))
        if found is not None:
            return [found]
    if not reference:
        return []
    query = select(Task.id).where(Task.tracking_id == reference, visible)
    return list(session.scalars(query.order_by(Task.id).limit(limit)))


def template_labels(session: Session) -> list[str]:
    return list(session.scalars(select(TaskTemplate.label).order_by(TaskTemplate.label)))


def tag_names(session: Session) -> list[str]:
    return list(session.scalars(select(Tag.name).order_by(Tag.name)))


def usernames(session: Session) -> list[str]:
    return list(session.scalars(select(User.username).order_by(User.username)))


def is_overdue(session: Session, task: Task) -> bool:
    """Whether the task is overdue as the list's overdue filter has it (one rule for both)."""
    if task.due is None:
        return False
    query = select(Task.id).where(Task.id == task.id, *lists.overdue_conditions())
    return session.scalar(query) is not None
