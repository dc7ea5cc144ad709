"""Changing a task where its group follows: the status change the group reacts to, and edits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from ...config import CallbackHosts
from ...models import Task, TaskStatus, User
from ..callbacks import destinations as callback_destinations
from ..taskgroups import completion
from ..tasks import editing, transitions


def set_status(
    session: Session,
    *,
    task: Task,
    status: str,
    actor: User | None,
    release_lock: bool = True,
) -> bool:
    """Move a task to `status` once: concurrent requests for the same change make one transition.

    Done records who finished it, writes the callback to the outbox and, with `release_lock`
    (TASKMAN_DONE_RELEASES_LOCK), releases the lock; the task's group then follows. Returns
    whether the status changed.
    """
    old_status = transitions.change_status(
        session, task=task, status=status, actor=actor, release_lock=release_lock
    )
    if old_status is None:
        return False
    completion.on_task_status_changed(session, task=task, old_status=old_status, actor=actor)
    return True


def mark_done(
    session: Session, *, task: Task, actor: User | None, release_lock: bool = True
) -> bool:
    """Set the task done (see `set_status`)."""
    return set_status(
        session, task=task, status=TaskStatus.DONE, actor=actor, release_lock=release_lock
    )


def update(
    session: Session,
    *,
    task: Task,
    changes: Mapping[str, Any],
    actor: User,
    callback_hosts: CallbackHosts = callback_destinations.DEFAULT,
    scan_check: str = "strict",
    done_releases_lock: bool = True,
    warnings: dict[str, list[str]] | None = None,
) -> Task:
    """Change a task: every field is checked against the actor's rights before anything is set.

    `warnings`, when given, receives what was accepted but should be known (field: messages).
    """
    editing.edit(
        session,
        task=task,
        changes=changes,
        actor=actor,
        callback_hosts=callback_hosts,
        scan_check=scan_check,
        warnings=warnings,
    )
    if "status" in changes:
        set_status(
            session,
            task=task,
            status=changes["status"],
            actor=actor,
            release_lock=done_releases_lock,
        )
    session.flush()
    return task
