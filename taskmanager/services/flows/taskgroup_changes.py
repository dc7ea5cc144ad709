"""Creating a task group with its tasks, and changing which tasks it holds."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy import update as update_statement
from sqlalchemy.orm import Session

from ...config import CallbackHosts
from ...models import Task, TaskGroup, User, utcnow
from ..accounts import groups
from ..callbacks import destinations as callback_destinations
from ..kit import references
from ..kit.errors import InvalidInput
from ..taskgroups import completion
from ..taskgroups.reads import DISTRIBUTE_METHODS
from ..tasks import assignment, checks, creation, history, visibility

ASSIGNMENT_FIELDS = ("users", "groups", "distribute_in_group")


def create(
    session: Session,
    *,
    actor: User | None,
    label: str,
    callback_url: str | None = None,
    callback_content: Any = None,
    specs: Sequence[creation.NewTask] = (),
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
    for position, spec in enumerate(specs):
        if spec.idempotency_key is not None:
            # An existing task answered for its key would be taken into the new group.
            raise InvalidInput(
                "The tasks of a new task group take no idempotency_key",
                field=f"tasks.{position}.idempotency_key",
            )
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
        callback_content=checks.stored_text(callback_content),
        callback_fired=False,
        create_time=utcnow(),
    )
    session.add(taskgroup)
    session.flush()
    if specs:
        created = creation.create_many(
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
        taskgroup.callback_content = checks.stored_text(changes["callback_content"])
    if changes.get("tasks") is not None:
        _set_tasks(session, taskgroup=taskgroup, actor=actor, task_refs=changes["tasks"])
    session.flush()
    return taskgroup


def _set_tasks(
    session: Session, *, taskgroup: TaskGroup, actor: User, task_refs: Sequence[str | int]
) -> None:
    if len(task_refs) > creation.BULK_CREATE_MAX:
        raise InvalidInput(
            f"At most {creation.BULK_CREATE_MAX} tasks per group, got {len(task_refs)}",
            field="tasks",
        )
    wanted: set[int] = set()
    previous: dict[int, int | None] = {}
    for reference in task_refs:
        task = visibility.get_visible_or_raise(
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
    # One operation, one timestamp: the activity feed shows it as one line.
    history.record_many(
        session,
        entries=[
            (
                task_id,
                "edit",
                # The shape of every edit entry: old and new value per changed field.
                {
                    "taskgroup": {"old": previous.get(task_id), "new": taskgroup.id}
                    if task_id in joining
                    else {"old": taskgroup.id, "new": None}
                },
            )
            for task_id in sorted(leaving | joining)
        ],
        actor=actor,
    )
    if joining:
        completion.fire_callback_when_done(session, taskgroup_id=taskgroup.id)
