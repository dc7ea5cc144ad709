"""A task's status changes: one transition per change, however many ask at once."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    Table,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ...models import (
    Task,
    TaskStatus,
    User,
    utcnow,
)
from ..callbacks import outbox as callbacks
from ..kit.errors import Conflict, NotFound
from ..metadata import rendering
from . import history


def change_status(
    session: Session,
    *,
    task: Task,
    status: str,
    actor: User | None,
    release_lock: bool = True,
) -> str | None:
    """Move a task to `status` once: concurrent requests for the same change make one transition.

    Done records who finished it, writes the callback to the outbox and, with `release_lock`
    (TASKMAN_DONE_RELEASES_LOCK), releases the lock. Returns the old status when the status
    changed, else None. (`flows.task_changes.set_status` also lets the task's group follow.)
    """
    for _attempt in range(3):
        # A locking read: waits for a concurrent change of this task and then sees its result.
        current = session.execute(
            select(Task.status, Task.lock_id).where(Task.id == task.id).with_for_update()
        ).one_or_none()
        if current is None:
            raise NotFound(f"Task {task.id} does not exist", field="task")
        old_status, lock_id = current
        if old_status == status:
            set_committed_value(task, "status", status)
            return None
        now = utcnow()
        values: dict[str, Any] = {"status": status, "update_time": now}
        done = status == TaskStatus.DONE
        if done:
            values.update(done_by_id=actor.id if actor else None, done_time=now)
            if release_lock:
                values.update(lock_id=None, lock_time=None)
        # Only the request that still sees the old status makes the transition.
        result = session.execute(
            # The table, not the entity: the ORM's bulk-update layer cost more than the SQL.
            sql_update(cast(Table, Task.__table__))
            .where(Task.id == task.id, Task.status == old_status)
            .values(**values)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            break
    else:
        raise Conflict(
            "The task's status keeps changing under this request; read it and retry",
            field="status",
        )
    for name, value in values.items():
        set_committed_value(task, name, value)
    for name in ("lock", "done_by"):
        if f"{name}_id" in values:
            session.expire(task, [name])
    entries: list[tuple[int, str, dict[str, Any] | None]] = [
        (task.id, "status", {"old": old_status, "new": status})
    ]
    if done and release_lock and lock_id is not None:
        # Named like every unlock entry (by username), with why it was released.
        holder = session.scalar(select(User.username).where(User.id == lock_id))
        entries.append((task.id, "unlock", {"user": holder, "reason": "done"}))
    history.record_many(session, entries=entries, actor=actor)
    if done:
        meta_values = rendering.values_for(session, task.raw_callback_url)
        url = rendering.render_optional(task.raw_callback_url, meta_values)
        callbacks.enqueue_for_task(session, task=task, rendered_url=url)
    return old_status
