"""Task groups: tasks created together, whose status follows their tasks.

A group is `done` when all its tasks are done, else `aborted` when any is aborted, else `queued`;
computed in SQL when read. When one task becomes aborted the group's unfinished tasks are aborted
too. When the last task becomes done the group's callback is written to the outbox exactly once.
"""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    select,
    true,
)
from sqlalchemy.orm import Session

from ...models import Tag, Task, TaskGroup, TaskStatus, User, task_tags
from ..kit import paging, references
from ..kit.errors import NotFound
from ..kit.typed_rows import as_tuples
from ..metadata import rendering
from ..tasks import creation, visibility

DISTRIBUTE_METHODS = ("same", "unique")
# Fields of a task body that choose its users; a group-level distribute_in_group replaces them.


def status_expression() -> ColumnElement[str]:
    """SQL: the status of the TaskGroup row the enclosing query is on, from its tasks."""
    total = func.count(Task.id)
    done = func.sum(case((Task.status == TaskStatus.DONE, 1), else_=0))
    aborted = func.sum(case((Task.status == TaskStatus.ABORTED, 1), else_=0))
    return (
        select(
            case(
                (and_(total > 0, done == total), TaskStatus.DONE.value),
                (aborted > 0, TaskStatus.ABORTED.value),
                else_=TaskStatus.QUEUED.value,
            )
        )
        .where(Task.taskgroup_id == TaskGroup.id)
        .correlate(TaskGroup)
        .scalar_subquery()
    )


def visible_to(user: User) -> ColumnElement[bool]:
    """SQL: the group holds a task the user may see (every group for task_read_all)."""
    if visibility.reads_all(user):
        return true()
    return exists().where(Task.taskgroup_id == TaskGroup.id, visibility.visible_to(user))


def _query(user: User) -> Select[TaskGroup, str]:
    return select(TaskGroup, status_expression().label("status")).where(visible_to(user))


def list_visible(
    session: Session,
    *,
    user: User,
    status: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[tuple[TaskGroup, str]]:
    """Groups the user may see with their status, by id; optionally only those in `status`.

    `limit` defaults to, and is capped at, the task lists' maximum.
    """
    offset, limit = paging.clamp(offset, limit, cap=paging.MAX_TASK_PAGE_SIZE)
    query = _query(user).order_by(TaskGroup.id).offset(offset)
    if status is not None:
        query = query.where(status_expression() == status)
    query = query.limit(limit)
    return [(group, group_status) for group, group_status in session.execute(query)]


def get_or_raise(session: Session, *, reference: str | int, user: User) -> tuple[TaskGroup, str]:
    """The group by id or label (the newest of that label) with its status; 404 if not visible."""
    reference = str(reference)
    query = _query(user)
    row = None
    # An id only when an id column can hold it (SQLite cannot bind beyond 64 bits).
    number = references.as_id(reference) if reference.isdigit() else None
    if number is not None:
        row = session.execute(query.where(TaskGroup.id == number)).first()
    if row is None:
        row = session.execute(
            query.where(TaskGroup.label == reference).order_by(TaskGroup.id.desc()).limit(1)
        ).first()
    if row is None:
        raise NotFound(f"Task group {reference!r} does not exist", field="taskgroup")
    return row[0], row[1]


def tasks_of(session: Session, *, taskgroup: TaskGroup, user: User) -> list[creation.TaskSummary]:
    """The group's tasks the user may see, by id, with their tags: two queries, any size."""
    rows = {
        task_id: creation.TaskSummary(task_id, status, project, template_id)
        for task_id, status, project, template_id in session.execute(
            select(Task.id, Task.status, Task.project, Task.template_id)
            .where(Task.taskgroup_id == taskgroup.id, visibility.visible_to(user))
            .order_by(Task.id)
        )
    }
    tagged = session.execute(
        select(task_tags.c.task_id, Tag.id, Tag.name)
        .join(Tag, Tag.id == task_tags.c.tag_id)
        .join(Task, Task.id == task_tags.c.task_id)
        .where(Task.taskgroup_id == taskgroup.id)
        .order_by(task_tags.c.task_id, Tag.id)
    )
    for task_id, tag_id, name in as_tuples(tagged):
        if task_id in rows:
            rows[task_id].tags.append((tag_id, name))
    return list(rows.values())


def render(session: Session, text: str | None) -> str | None:
    """Replace $LABEL / ${LABEL} with the current meta values; unknown names stay."""
    return rendering.render_optional(text, rendering.current_values(session))
