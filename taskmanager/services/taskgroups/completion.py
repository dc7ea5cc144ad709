"""What a task's status change does to its group: abort the siblings, fire the group's callback."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    func,
    select,
)
from sqlalchemy import update as update_statement
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ...models import CLOSED_STATUSES, Task, TaskGroup, TaskStatus, User
from ..callbacks import outbox as callbacks
from ..tasks import history
from .reads import render

SIBLING_LOCK_ATTEMPTS = 25
SIBLING_LOCK_PAUSE = 0.02


def on_task_status_changed(
    session: Session, *, task: Task, old_status: str, actor: User | None
) -> None:
    """Keep the task's group consistent after one of its tasks changed status.

    Aborting cascades to the group's unfinished tasks; the group's callback is written to the
    outbox exactly once, when all its tasks are done.
    """
    if task.taskgroup_id is None or task.status == old_status:
        return
    if task.status == TaskStatus.ABORTED:
        _abort_others(session, task=task, actor=actor)
    elif task.status == TaskStatus.DONE:
        fire_callback_when_done(session, taskgroup_id=task.taskgroup_id)


def _unfinished_siblings(taskgroup_ids: Any, task_ids: Any) -> list[ColumnElement[bool]]:
    """The tasks an abort of `task_ids` aborts too: the unfinished others of their groups."""
    return [
        Task.taskgroup_id.in_(taskgroup_ids),
        Task.id.not_in(task_ids),
        Task.status.not_in(CLOSED_STATUSES),
    ]


def aborted_along(session: Session, *, task_ids: Sequence[int]) -> Select[Any]:
    """The tasks (a query, by id) that aborting these tasks would abort too."""
    groups = select(Task.taskgroup_id).where(
        Task.id.in_(list(task_ids)), Task.taskgroup_id.is_not(None)
    )
    return select(Task).where(*_unfinished_siblings(groups, list(task_ids))).order_by(Task.id)


def _abort_others(session: Session, *, task: Task, actor: User | None) -> None:
    rows = _lock_unfinished_siblings(
        session,
        select(Task.id, Task.status)
        .where(*_unfinished_siblings([task.taskgroup_id], [task.id]))
        .order_by(Task.id),
    )
    if not rows:
        return
    session.execute(
        update_statement(Task)
        .where(Task.id.in_([task_id for task_id, _status in rows]))
        .values(status=TaskStatus.ABORTED)
    )
    for task_id, old in rows:
        history.record(
            session,
            task_id=task_id,
            actor=actor,
            action="status",
            detail={"old": old, "new": TaskStatus.ABORTED, "because_of_task": task.id},
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


def fire_callback_when_done(session: Session, *, taskgroup_id: int) -> None:
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
        .where(Task.taskgroup_id == taskgroup_id, Task.status != TaskStatus.DONE)
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
