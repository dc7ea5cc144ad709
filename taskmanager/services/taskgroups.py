"""Task groups: tasks created together, whose status follows their tasks.

A group is `done` when all its tasks are done, else `aborted` when any is aborted, else `queued`;
computed in SQL when read. When one task becomes aborted the group's unfinished tasks are aborted
too. When the last task becomes done the group's callback is written to the outbox exactly once.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

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
from sqlalchemy import update as update_statement
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..config import CallbackHosts
from ..models import Tag, Task, TaskGroup, User, task_tags, utcnow
from . import (
    assignment,
    groups,
    history,
    permissions,
    references,
    rendering,
    tasks,
)
from .callbacks import destinations as callback_destinations
from .callbacks import outbox as callbacks
from .errors import InvalidInput, NotFound
from .typed_rows import as_tuples

STATUSES = ("queued", "done", "aborted")
DISTRIBUTE_METHODS = ("same", "unique")
# Fields of a task body that choose its users; a group-level distribute_in_group replaces them.
ASSIGNMENT_FIELDS = ("users", "groups", "distribute_in_group")
# How long an abort waits for siblings other requests are changing: 25 x 20 ms.
SIBLING_LOCK_ATTEMPTS = 25
SIBLING_LOCK_PAUSE = 0.02


def status_expression() -> ColumnElement[str]:
    """SQL: the status of the TaskGroup row the enclosing query is on, from its tasks."""
    total = func.count(Task.id)
    done = func.sum(case((Task.status == "done", 1), else_=0))
    aborted = func.sum(case((Task.status == "aborted", 1), else_=0))
    return (
        select(
            case(
                (and_(total > 0, done == total), "done"),
                (aborted > 0, "aborted"),
                else_="queued",
            )
        )
        .where(Task.taskgroup_id == TaskGroup.id)
        .correlate(TaskGroup)
        .scalar_subquery()
    )


def visible_to(user: User) -> ColumnElement[bool]:
    """SQL: the group holds a task the user may see (every group for task_read_all)."""
    if "task_read_all" in permissions.of(user):
        return true()
    return exists().where(Task.taskgroup_id == TaskGroup.id, tasks.visible_to(user))


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
    query = _query(user).order_by(TaskGroup.id).offset(offset)
    if status is not None:
        query = query.where(status_expression() == status)
    # Imported here: task_lists imports names from tasks, which imports this module, so a
    # module-level import fails whenever tasks is the first of the three to be imported.
    from . import task_lists

    query = query.limit(task_lists.effective_limit(limit))
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


def tasks_of(session: Session, *, taskgroup: TaskGroup, user: User) -> list[tasks.TaskSummary]:
    """The group's tasks the user may see, by id, with their tags: two queries, any size."""
    rows = {
        task_id: tasks.TaskSummary(task_id, status, project, template_id)
        for task_id, status, project, template_id in session.execute(
            select(Task.id, Task.status, Task.project, Task.template_id)
            .where(Task.taskgroup_id == taskgroup.id, tasks.visible_to(user))
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


def create(
    session: Session,
    *,
    actor: User | None,
    label: str,
    callback_url: str | None = None,
    callback_content: Any = None,
    specs: Sequence[tasks.NewTask] = (),
    distribute_in_group: str | int | None = None,
    distribute_method: str | None = None,
    callback_hosts: CallbackHosts = callback_destinations.DEFAULT,
    scan_check: str = "strict",
    warnings: dict[str, list[str]] | None = None,
) -> TaskGroup:
    """Create a group and its tasks (created as POST /tasks creates them) in one transaction.

    With distribute_in_group the group's members share the tasks by weight: `same` (default)
    gives every task to one member, `unique` each task to a different member.
    """
    if isinstance(callback_url, str):
        callback_destinations.check_url(callback_url, hosts=callback_hosts, field="callback_url")
    method = distribute_method or "same"
    if method not in DISTRIBUTE_METHODS:
        raise InvalidInput("distribute_method must be same or unique", field="distribute_method")
    specs = list(specs)
    if distribute_in_group is not None:
        for position, spec in enumerate(specs):
            given = [name for name in ASSIGNMENT_FIELDS if getattr(spec, name)]
            if given:
                raise InvalidInput(
                    f"Task {position} names {', '.join(given)}, which cannot be combined with "
                    "the group's distribute_in_group",
                    field=f"tasks.{position}",
                )
        group = groups.get_or_raise(
            session, reference=distribute_in_group, field="distribute_in_group"
        )
        chosen = assignment.choose(session, group=group, count=len(specs), method=method)
        specs = [
            dataclasses.replace(spec, users=[user.id])
            for spec, user in zip(specs, chosen, strict=True)
        ]
    taskgroup = TaskGroup(
        label=label,
        raw_callback_url=callback_url,
        callback_content=tasks.stored_text(callback_content),
        callback_fired=False,
        create_time=utcnow(),
    )
    session.add(taskgroup)
    session.flush()
    if specs:
        created = tasks.create_many(
            session,
            specs=specs,
            actor=actor,
            callback_hosts=callback_hosts,
            scan_check=scan_check,
            warnings=warnings,
        )
        task_ids = [summary.id for summary in created]
        session.execute(
            update_statement(Task).where(Task.id.in_(task_ids)).values(taskgroup_id=taskgroup.id),
            execution_options={"synchronize_session": False},
        )
    return taskgroup


def update(
    session: Session,
    *,
    taskgroup: TaskGroup,
    actor: User,
    changes: dict[str, Any],
    callback_hosts: CallbackHosts = callback_destinations.DEFAULT,
) -> TaskGroup:
    """Change label, callback_url, callback_content and/or the group's tasks (ids, replacing all)."""
    if "label" in changes:
        if not changes["label"]:
            raise InvalidInput("label must not be empty", field="label")
        taskgroup.label = changes["label"]
    if "callback_url" in changes:
        if isinstance(changes["callback_url"], str):
            callback_destinations.check_url(
                changes["callback_url"], hosts=callback_hosts, field="callback_url"
            )
        taskgroup.raw_callback_url = changes["callback_url"]
    if "callback_content" in changes:
        taskgroup.callback_content = tasks.stored_text(changes["callback_content"])
    if changes.get("tasks") is not None:
        _set_tasks(session, taskgroup=taskgroup, actor=actor, task_refs=changes["tasks"])
    session.flush()
    return taskgroup


def _set_tasks(
    session: Session, *, taskgroup: TaskGroup, actor: User, task_refs: Sequence[str | int]
) -> None:
    if len(task_refs) > tasks.BULK_CREATE_MAX:
        raise InvalidInput(
            f"At most {tasks.BULK_CREATE_MAX} tasks per group, got {len(task_refs)}", field="tasks"
        )
    wanted: set[int] = set()
    previous: dict[int, int | None] = {}
    for reference in task_refs:
        task = tasks.get_visible_or_raise(
            session, task_id=references.normalise(reference), user=actor
        )
        wanted.add(task.id)
        previous[task.id] = task.taskgroup_id
    current = set(session.scalars(select(Task.id).where(Task.taskgroup_id == taskgroup.id)))
    leaving, joining = current - wanted, wanted - current
    for task_ids, value in ((leaving, None), (joining, taskgroup.id)):
        if task_ids:
            session.execute(
                update_statement(Task).where(Task.id.in_(task_ids)).values(taskgroup_id=value),
            )
    for task_id in sorted(leaving | joining):
        history.record(
            session,
            task_id=task_id,
            actor=actor,
            action="edit",
            # The shape of every edit entry: old and new value per changed field.
            detail={
                "taskgroup": {"old": previous.get(task_id), "new": taskgroup.id}
                if task_id in joining
                else {"old": taskgroup.id, "new": None}
            },
        )
    if joining:
        _fire_callback_when_done(session, taskgroup_id=taskgroup.id)


def on_task_status_changed(
    session: Session, *, task: Task, old_status: str, actor: User | None
) -> None:
    """Keep the task's group consistent after one of its tasks changed status.

    Aborting cascades to the group's unfinished tasks; the group's callback is written to the
    outbox exactly once, when all its tasks are done.
    """
    if task.taskgroup_id is None or task.status == old_status:
        return
    if task.status == "aborted":
        _abort_others(session, task=task, actor=actor)
    elif task.status == "done":
        _fire_callback_when_done(session, taskgroup_id=task.taskgroup_id)


def _abort_others(session: Session, *, task: Task, actor: User | None) -> None:
    rows = _lock_unfinished_siblings(
        session,
        select(Task.id, Task.status)
        .where(
            Task.taskgroup_id == task.taskgroup_id,
            Task.id != task.id,
            Task.status.not_in(("aborted", "done")),
        )
        .order_by(Task.id),
    )
    if not rows:
        return
    session.execute(
        update_statement(Task)
        .where(Task.id.in_([task_id for task_id, _status in rows]))
        .values(status="aborted")
    )
    for task_id, old in rows:
        history.record(
            session,
            task_id=task_id,
            actor=actor,
            action="status",
            detail={"old": old, "new": "aborted", "because_of_task": task.id},
        )


def _lock_unfinished_siblings(session: Session, query: Select[int, str]) -> list[Any]:
    """Lock the rows `query` selects, waiting a little for those another request is changing.

    This request already holds its own task's row, so waiting without limit could deadlock
    with a sibling being aborted at the same moment (which then aborts the rest itself).
    """
    if session.get_bind().dialect.name == "sqlite":  # one writer: nobody else holds rows
        return list(session.execute(query).all())
    for _ in range(SIBLING_LOCK_ATTEMPTS):
        try:
            with session.begin_nested():
                return list(
                    session.execute(query.with_for_update(nowait=True, key_share=True)).all()
                )
        except OperationalError as exc:
            if not _row_busy(exc):
                raise
            time.sleep(SIBLING_LOCK_PAUSE)
    return list(session.execute(query.with_for_update(skip_locked=True, key_share=True)).all())


def _row_busy(exc: OperationalError) -> bool:
    """A NOWAIT lock found the row locked (PostgreSQL 55P03; MariaDB/MySQL 1205 or 3572)."""
    if getattr(exc.orig, "sqlstate", None) == "55P03":
        return True
    code = next(iter(getattr(exc.orig, "args", ())), None)
    return code in (1205, 3572)


def _fire_callback_when_done(session: Session, *, taskgroup_id: int) -> None:
    """Write the group's callback to the outbox if all its tasks are done and it has not fired.

    Two tasks finishing at once: the group row lock orders them, and the later one (whose
    statements see the earlier commit) finds all done; the conditional UPDATE of callback_fired
    makes the write happen once whatever the timing.
    """
    session.execute(
        select(TaskGroup.id).where(TaskGroup.id == taskgroup_id).with_for_update(key_share=True)
    )
    unfinished = session.scalar(
        select(func.count())
        .select_from(Task)
        .where(Task.taskgroup_id == taskgroup_id, Task.status != "done")
    )
    if unfinished:
        return
    fired = session.execute(  # type: ignore[attr-defined]
        update_statement(TaskGroup)
        .where(TaskGroup.id == taskgroup_id, TaskGroup.callback_fired.is_(False))
        .values(callback_fired=True),
        execution_options={"synchronize_session": False},
    ).rowcount
    if not fired:
        return
    taskgroup = session.get_one(TaskGroup, taskgroup_id, populate_existing=True)
    callbacks.enqueue_for_taskgroup(
        session, taskgroup=taskgroup, rendered_url=render(session, taskgroup.raw_callback_url)
    )
