"""Lists of tasks: pages of summaries with their total, in a fixed number of queries.

A page costs three queries (count, page, the page's tags) whatever its size. The count reads
only the link tables' indexes when it can. For the page, a visibility or tag condition is
either checked row by row while walking tasks in id order (cheap when the caller may see many
tasks: the walk stops after one page) or as one set of ids (cheap when the set is small).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache
from sqlalchemy import (
    ColumnElement,
    Select,
    false,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from ...models import (
    Group,
    Tag,
    Task,
    User,
    task_groups_assigned,
    task_tags,
    utcnow,
)
from ..accounts import groups, permissions
from ..kit import pages, paging
from ..kit.errors import Forbidden, InvalidInput
from ..kit.typed_rows import as_tuples
from ..reference import tags as tag_service
from . import policy, visibility
from .creation import TaskSummary
from .resolution import Reference, resolve_templates, resolve_users

# Above this many matching tasks, shallow pages check conditions row by row (see above).
SET_BASED_MAX = 20_000
SHALLOW_OFFSET = 1_000


# The orders a task list offers: by id (the default), or most urgent first (policy.PRIORITY_ORDER).
ORDERS = ("id", "priority")


@dataclass
class Listed(TaskSummary):
    """A task of a list; a waiting one also says what it waits for and why it still does."""

    wait_for: str | None = None
    wait_detail: str | None = None


Page = paging.Page[TaskSummary]


def overdue_conditions() -> list[ColumnElement[bool]]:
    """Due before now and not yet done or aborted."""
    return [Task.due < utcnow(), pages.open_condition()]


def scheduling_conditions(
    *, subject: str | None = None, series: str | None = None, overdue: bool = False
) -> list[ColumnElement[bool]]:
    """The list filters by subject, series and overdue, as SQL conditions (for other lists)."""
    found: list[ColumnElement[bool]] = []
    if subject is not None:
        found.append(Task.subject == subject)
    if series is not None:
        found.append(Task.series == series)
    if overdue:
        found += overdue_conditions()
    return found


def check_order(order: str | None) -> None:
    if order is not None and order not in ORDERS:
        raise InvalidInput(f"order must be one of {', '.join(ORDERS)}", field="order")


@dataclass
class _Selection:
    """Which tasks a list holds: column conditions plus assignment, group and tag membership."""

    columns: list[ColumnElement[bool]] = field(default_factory=list)
    # (name, value) of each column condition: with the fields below, the list's identity.
    column_filters: list[tuple[str, Any]] = field(default_factory=list)
    assigned_user: int | None = None
    group_id: int | None = None
    tag_ids: list[int] = field(default_factory=list)
    empty: bool = False

    def key(self) -> tuple[Any, ...]:
        return (
            self.assigned_user,
            self.group_id,
            tuple(self.tag_ids),
            tuple(self.column_filters),
        )


class CountCache:
    """Totals of large task lists, remembered per process for a few seconds.

    An exact COUNT reads every matching index entry, so its cost grows with the list; paging
    through 100,000 tasks would pay it on every page. A total of at least `min_count` is reused
    for `ttl_seconds` (it may lag behind changes by that long); smaller totals are always counted
    afresh. A ttl of 0 turns the cache off.
    """

    def __init__(
        self, ttl_seconds: float, min_count: int = 10_000, max_entries: int = 1024
    ) -> None:
        self.min_count = min_count
        self._entries: TTLCache[tuple[Any, ...], int] | None = (
            TTLCache(max_entries, ttl_seconds, timer=time.monotonic) if ttl_seconds > 0 else None
        )
        self._mutex = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> int | None:
        if self._entries is None:
            return None
        with self._mutex:
            return self._entries.get(key)

    def put(self, key: tuple[Any, ...], count: int) -> None:
        if self._entries is None or count < self.min_count:
            return
        with self._mutex:
            self._entries[key] = count


def _membership(selection: _Selection, *, per_row: bool, fence: bool) -> list[Any]:
    """SQL conditions for assignment, group and tags: row-by-row EXISTS, or id sets."""

    def row_test(query: Select[Any]) -> ColumnElement[bool]:
        # OFFSET 0: the fence of visibility.assigned_exists, for the same reason.
        return (query.offset(0) if fence else query).exists()

    def test(query: Select[Any], ids: Select[Any]) -> ColumnElement[bool]:
        return row_test(query) if per_row else Task.id.in_(ids)

    conditions: list[Any] = list(selection.columns)
    user_id = selection.assigned_user
    if user_id is not None:
        conditions.append(
            visibility.assigned_exists(user_id, fence=fence)
            if per_row
            else visibility.assigned_to(user_id)
        )
    if selection.group_id is not None:
        in_group = task_groups_assigned.c.group_id == selection.group_id
        conditions.append(
            test(
                select(literal(1)).where(task_groups_assigned.c.task_id == Task.id, in_group),
                select(task_groups_assigned.c.task_id).where(in_group),
            )
        )
    if len(selection.tag_ids) > 1 and not per_row:
        # Every tag, as one set: the tasks holding all of them (one join, not one per tag).
        conditions.append(
            Task.id.in_(
                select(task_tags.c.task_id)
                .where(task_tags.c.tag_id.in_(selection.tag_ids))
                .group_by(task_tags.c.task_id)
                .having(func.count() == len(selection.tag_ids))
            )
        )
        return conditions
    for tag_id in selection.tag_ids:
        tagged = task_tags.c.tag_id == tag_id
        conditions.append(
            test(
                select(literal(1)).where(task_tags.c.task_id == Task.id, tagged),
                select(task_tags.c.task_id).where(tagged),
            )
        )
    return conditions


def _count(session: Session, selection: _Selection) -> int:
    """SQL COUNT of the selection, from the smallest index that answers it."""
    only_links = not selection.columns
    counted: Select[Any]
    if only_links and selection.group_id is None and not selection.tag_ids:
        if selection.assigned_user is None:
            counted = select(func.count()).select_from(Task)
        else:
            counted = visibility.assigned_count(session, user_id=selection.assigned_user)
    elif (
        only_links
        and selection.assigned_user is None
        and selection.group_id is None
        and (len(selection.tag_ids) == 1)
    ):
        counted = select(func.count()).where(task_tags.c.tag_id == selection.tag_ids[0])
    elif only_links and selection.assigned_user is None and not selection.tag_ids:
        counted = select(func.count()).where(task_groups_assigned.c.group_id == selection.group_id)
    else:
        conditions = _membership(selection, per_row=False, fence=False)
        counted = select(func.count()).select_from(Task).where(*conditions)
    return session.scalar(counted) or 0


def _total(session: Session, selection: _Selection, counts: CountCache | None) -> tuple[int, bool]:
    """The selection's total, and whether it came from the cache (counted earlier)."""
    if selection.empty:
        return 0, False
    if counts is None:
        return _count(session, selection), False
    key = selection.key()
    total = counts.get(key)
    if total is not None:
        return total, True
    total = _count(session, selection)
    counts.put(key, total)
    return total, False


def _page(
    session: Session,
    selection: _Selection,
    offset: int,
    limit: int | None,
    counts: CountCache | None = None,
    after_id: int | None = None,
    by_priority: bool = False,
) -> Page:
    """Count, one page of summaries ordered by id (after `after_id`) or by priority, and the
    page's tags."""
    offset, limit = paging.clamp(offset, limit, cap=paging.MAX_TASK_PAGE_SIZE)
    total, estimated = _total(session, selection, counts)
    items: list[TaskSummary] = []
    more = False
    # A cached total may lag behind: the page is read anyway when it says the list is shorter.
    if limit and (offset < total or estimated):
        # A keyset page starts its walk at `after_id`, so it is as shallow as its offset. In
        # priority order every match is sorted anyway: their ids as a set cost no more.
        per_row = total > SET_BASED_MAX and offset < SHALLOW_OFFSET and not by_priority
        fence = per_row and session.get_bind().dialect.name == "postgresql"
        query = paging.after(
            select(*_LISTED).where(*_membership(selection, per_row=per_row, fence=fence)),
            Task.id,
            after_id,
        )
        ordered = query.order_by(*policy.PRIORITY_ORDER) if by_priority else query.order_by(Task.id)
        # One row past the page says whether another page follows (its `next` link).
        sliced = ordered.offset(offset).limit(limit + 1)
        items = [_listed(*row) for row in as_tuples(session.execute(sliced))]
        more = len(items) > limit
        del items[limit:]
    if items:
        by_id = {item.id: item for item in items}
        tag_rows = session.execute(
            select(task_tags.c.task_id, Tag.id, Tag.name)
            .join(Tag, Tag.id == task_tags.c.tag_id)
            .where(task_tags.c.task_id.in_(list(by_id)))
            .order_by(task_tags.c.task_id, Tag.id)
        )
        for task_id, tag_id, name in as_tuples(tag_rows):
            by_id[task_id].tags.append((tag_id, name))
    return Page(
        items=items,
        total=total,
        offset=offset,
        limit=limit,
        after_id=after_id,
        more=more,
        by_id=not by_priority,
        total_is_estimate=estimated,
    )


# What a list reads of each task (wait_for and wait_detail shown for waiting tasks only).
_LISTED = (Task.id, Task.status, Task.project, Task.template_id, Task.wait_for, Task.wait_detail)


def _listed(
    task_id: int,
    status: str,
    project: str,
    template_id: int,
    wait_for: str | None,
    wait_detail: str | None,
) -> Listed:
    return Listed(task_id, status, project, template_id, wait_for=wait_for, wait_detail=wait_detail)


def _by_priority(
    session: Session, order: str | None, project: str | None, after_id: int | None
) -> bool:
    """Whether a list goes in priority order: asked for, or the default of the project named
    (whose policy has priority_order) when the client does not page by id."""
    check_order(order)
    if order == "priority" and after_id is not None:
        raise InvalidInput(
            "after (or after_id) pages in id order; in priority order page with offset",
            field="after",
        )
    if order is not None:
        return order == "priority"
    return after_id is None and project is not None and policy.get(session, project).priority_order


def list_page(
    session: Session,
    *,
    viewer: User,
    filters: Filters | None = None,
    order: str | None = None,
    offset: int = 0,
    limit: int | None = None,
    after_id: int | None = None,
    counts: CountCache | None = None,
) -> Page:
    """Tasks the viewer may see, filtered; `filters.user` counts only for viewers who read all
    tasks.

    In id order, or with `order="priority"` most urgent first (policy.PRIORITY_ORDER), which is
    also the default when the filters name a project whose policy has priority_order.
    `filters.overdue`: only tasks due before now and not done or aborted.
    With `after_id`, the page holds tasks with larger ids only (the total still counts all).
    With `counts`, a large total may come from that cache (see CountCache).
    """
    filters = filters or Filters()
    by_priority = _by_priority(session, order, filters.project, after_id)
    selection = _select(session, viewer=viewer, filters=filters)
    return _page(session, selection, offset, limit, counts, after_id, by_priority)


@dataclass(frozen=True)
class Filters:
    """What a task list may be narrowed to (each given one must hold)."""

    project: str | None = None
    template: Reference | None = None
    user: Reference | None = None
    status: str | None = None
    tags: Sequence[str] = ()
    application_name: str | None = None
    subject: str | None = None
    series: str | None = None
    overdue: bool = False


def filter_conditions(
    session: Session,
    *,
    viewer: User,
    filters: Filters | None = None,
    per_row: bool = False,
    seen_anyway: bool = False,
) -> list[ColumnElement[bool]]:
    """The tasks list_page would list, as SQL conditions (for other orders and columns).

    `per_row` gives the row-by-row form (for a shallow page walked in id order over many
    tasks, see the module's docstring). `seen_anyway` says the caller narrows the tasks to
    ones the viewer sees by another of its conditions (visibility.sees_group_tasks), so the
    viewer's own condition is left out: the same tasks, without looking up the viewer's.
    """
    selection = _select(session, viewer=viewer, filters=filters or Filters())
    if selection.empty:
        return [false()]
    if seen_anyway and not visibility.reads_all(viewer):
        selection.assigned_user = None
    fence = per_row and session.get_bind().dialect.name == "postgresql"
    return _membership(selection, per_row=per_row, fence=fence)


def walk_conditions(
    session: Session, *, viewer: User, filters: Filters
) -> list[ColumnElement[bool]]:
    """The tasks list_page would list, as conditions checked row by row: for walking every
    match in id order a batch at a time (each batch stops when it is full)."""
    selection = _select(session, viewer=viewer, filters=filters)
    if selection.empty:
        return [false()]
    fence = session.get_bind().dialect.name == "postgresql"
    return _membership(selection, per_row=True, fence=fence)


def _select(session: Session, *, viewer: User, filters: Filters) -> _Selection:
    selection = _Selection()
    if not visibility.reads_all(viewer):
        selection.assigned_user = viewer.id
    elif filters.user is not None:
        found = resolve_users(session, [filters.user]).get(filters.user)
        selection.empty |= found is None
        selection.assigned_user = found.id if found else None
    for column, value in (
        (Task.project, filters.project),
        (Task.status, filters.status),
        (Task.application_name, filters.application_name),
        (Task.subject, filters.subject),
        (Task.series, filters.series),
    ):
        if value is not None:
            selection.columns.append(column == value)
            selection.column_filters.append((column.key, value))
    if filters.overdue:
        selection.columns.extend(overdue_conditions())
        selection.column_filters.append(("overdue", True))
    if filters.template is not None:
        template = resolve_templates(session, [filters.template]).get(filters.template)
        selection.empty |= template is None
        if template is not None:
            selection.columns.append(Task.template_id == template.id)
            selection.column_filters.append(("template_id", template.id))
    if filters.tags:
        tag_service.check_filters(filters.tags)
        wanted = set(filters.tags)
        named = dict(session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted))).all())
        selection.empty |= len(named) < len(wanted)
        selection.tag_ids = sorted(named.values())
    return selection


def list_for_user(
    session: Session,
    *,
    viewer: User,
    user: User,
    offset: int = 0,
    limit: int | None = None,
    after_id: int | None = None,
) -> Page:
    """A user's tasks (direct or via groups): one's own, or anyone's with task/user read-all."""
    if user.id != viewer.id and not (permissions.of(viewer) & {"task_read_all", "user_read_all"}):
        raise Forbidden("You may only list your own tasks", field="user")
    return _page(session, _Selection(assigned_user=user.id), offset, limit, after_id=after_id)


def list_for_group(
    session: Session,
    *,
    viewer: User,
    group: Group,
    offset: int = 0,
    limit: int | None = None,
    after_id: int | None = None,
) -> Page:
    """Tasks assigned to a group: for members, and for those who read all groups or tasks."""
    if not permissions.of(viewer) & {"task_read_all", "group_read_all"} and not groups.is_member(
        session, group=group, user=viewer
    ):
        raise Forbidden("You may only list the tasks of your own groups", field="group")
    return _page(session, _Selection(group_id=group.id), offset, limit, after_id=after_id)


def list_for_tag(
    session: Session,
    *,
    viewer: User,
    tag: Tag,
    offset: int = 0,
    limit: int | None = None,
    after_id: int | None = None,
) -> Page:
    """The tag's tasks that the viewer may see."""
    selection = _Selection(tag_ids=[tag.id])
    if not visibility.reads_all(viewer):
        selection.assigned_user = viewer.id
    return _page(session, selection, offset, limit, after_id=after_id)
