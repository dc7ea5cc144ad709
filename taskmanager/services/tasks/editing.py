"""Changing a task's fields and assignment, and deleting it (status: `transitions`)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    bindparam,
    select,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from ...config import CallbackHosts
from ...models import (
    Group,
    Tag,
    Task,
    TaskStatus,
    TaskTemplate,
    User,
    utcnow,
)
from ..accounts import permissions
from ..callbacks import destinations as callback_destinations
from ..kit.errors import Forbidden, InvalidInput, NotFound
from . import history
from .checks import (
    TAGS_PER_TASK_MAX,
    Problems,
    TemplateScans,
    check,
    check_callback_url,
    check_scheduling,
    check_tag_name,
    check_wait_for,
    is_tag_name,
    stored_text,
)
from .creation import assignment_detail, pick, tags_by_name
from .resolution import resolve_groups, resolve_tags, resolve_templates, resolve_users
from .visibility import assigned_exists

STATUS_FIELDS = frozenset({"status"})
SCHEDULING_FIELDS = ("subject", "series", "priority", "due", "effort", "wait_for")
ASSIGNMENT_FIELDS = frozenset({"users", "groups"})
# Who a task goes to and when: the data manager's (superuser's) work as much as the admin's.
# (`wait_for` names a server to poll, and stays with task_update_all.)
MANAGED_FIELDS = ASSIGNMENT_FIELDS | {"subject", "series", "priority", "due", "effort"}
MANAGING_PERMISSIONS = frozenset({"task_update_user", "task_update_all"})
EDIT_FIELDS = frozenset(
    {
        "project",
        "template",
        "content",
        "raw_content",
        "callback_url",
        "raw_callback_url",
        "callback_content",
        "generator_url",
        "tracking_id",
        "application_name",
        "application_version",
        "tags",
        *SCHEDULING_FIELDS,
    }
)
# Fields that may not be cleared (lists are emptied with [], not null).
_NOT_NULL = frozenset(
    {
        "project",
        "template",
        "content",
        "raw_content",
        "status",
        "tracking_id",
        "tags",
        "users",
        "groups",
        "priority",
        "effort",
    }
)


def may_set_status(user: User, task: Task, session: Session) -> bool:
    held = permissions.of(user)
    if held & {"task_update_all", "task_update_status_all"}:
        return True
    if "task_update_status" not in held:
        return False
    assigned = session.scalar(
        _assigned_task_query(), {"visible_task_id": task.id, "visible_user_id": user.id}
    )
    return assigned is not None


@functools.cache
def _assigned_task_query() -> Select[int]:
    """The task's id if it is assigned to the user; built once, values bound per call."""
    return select(Task.id).where(
        Task.id == bindparam("visible_task_id"), assigned_exists(bindparam("visible_user_id"))
    )


def _forbidden_fields(session: Session, actor: User, task: Task, names: Iterable[str]) -> list[str]:
    held = permissions.of(actor)
    refused = []
    for name in sorted(names):
        if name in STATUS_FIELDS:
            allowed = may_set_status(actor, task, session)
        elif name in MANAGED_FIELDS:
            allowed = bool(held & MANAGING_PERMISSIONS)
        else:
            allowed = "task_update_all" in held
        if not allowed:
            refused.append(name)
    return refused


def edit(
    session: Session,
    *,
    task: Task,
    changes: Mapping[str, Any],
    actor: User,
    callback_hosts: CallbackHosts = callback_destinations.DEFAULT,
    scan_check: str = "strict",
    warnings: dict[str, list[str]] | None = None,
) -> None:
    """Check every change against the actor's rights, then set all but the status.

    The status is checked here and set by `flows.task_changes.update`, which calls this.
    `warnings`, when given, receives what was accepted but should be known (field: messages).
    """
    unknown = set(changes) - STATUS_FIELDS - ASSIGNMENT_FIELDS - EDIT_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}", field="task")
    refused = _forbidden_fields(session, actor, task, changes)
    if refused:
        _lock_or_raise(session, task)  # a task deleted meanwhile is not found, not forbidden
        raise Forbidden(
            f"You may not change: {', '.join(refused)}",
            errors={name: [f"You may not change {name}"] for name in refused},
        )
    problems = Problems()
    for name in _NOT_NULL & set(changes):
        if changes[name] is None:
            problems.add(name, f"{name} may not be null")
    if problems:
        raise problems.error()

    if set(changes) - STATUS_FIELDS:
        _lock_or_raise(session, task)  # (a status change locks the row itself)
    edits = _prepare_edits(session, task, changes, problems, callback_hosts, scan_check)
    users = groups = None
    if "users" in changes:
        users = pick(
            resolve_users(session, changes["users"]), changes["users"], problems, "users", "User"
        )
    if "groups" in changes:
        found = resolve_groups(session, changes["groups"])
        groups = pick(found, changes["groups"], problems, "groups", "Group")
    if "status" in changes:
        check(problems, "status", changes["status"])
    if problems:
        raise problems.error()
    if warnings is not None:
        warnings.update(problems.warnings)

    _apply_edits(session, task, edits, actor)
    if users is not None or groups is not None:
        _reassign(session, task, users, groups, actor)


@dataclass
class _Edits:
    columns: dict[str, Any]
    template: TaskTemplate | None
    tags: list[Tag] | None


def _prepare_edits(
    session: Session,
    task: Task,
    changes: Mapping[str, Any],
    problems: Problems,
    callback_hosts: CallbackHosts,
    scan_check: str,
) -> _Edits:
    columns = _columns(changes, problems, callback_hosts)
    columns.update(_scheduling(task, changes, problems, callback_hosts))
    template = None
    if "template" in changes:
        template = resolve_templates(session, [changes["template"]]).get(changes["template"])
        if template is None:
            problems.add(
                "template", f"Template {changes['template']!r} does not exist", not_found=True
            )
    if "template" in changes or "raw_content" in columns:
        effective = template if "template" in changes else task.template
        if effective is not None:
            content = changes.get("content")
            parsed = content if isinstance(content, dict) and "raw_content" not in changes else None
            TemplateScans(scan_check).check(
                problems, effective, columns.get("raw_content", task.raw_content), parsed
            )
    tags = _tags(session, changes["tags"], problems) if "tags" in changes else None
    return _Edits(columns, template, tags)


def _columns(
    changes: Mapping[str, Any], problems: Problems, callback_hosts: CallbackHosts
) -> dict[str, Any]:
    """The changed column values, each checked under the field it was given as."""
    columns: dict[str, Any] = {}
    for name in (
        "project",
        "generator_url",
        "tracking_id",
        "application_name",
        "application_version",
    ):
        if name in changes:
            columns[name] = changes[name]
    given_as: dict[str, str] = {}
    for column, raw, rendered in (
        ("raw_content", "raw_content", "content"),
        ("raw_callback_url", "raw_callback_url", "callback_url"),
    ):
        given = raw if raw in changes else rendered if rendered in changes else None
        if given is not None:
            columns[column] = stored_text(changes[given])
            given_as[column] = given
    if "callback_content" in changes:
        columns["callback_content"] = stored_text(changes["callback_content"])
    for name, value in columns.items():
        check(problems, name, value, field_name=given_as.get(name, name))
    if "raw_callback_url" in columns:
        check_callback_url(
            problems,
            columns["raw_callback_url"],
            callback_hosts,
            field_name=given_as["raw_callback_url"],
        )
    return columns


def _scheduling(
    task: Task, changes: Mapping[str, Any], problems: Problems, callback_hosts: CallbackHosts
) -> dict[str, Any]:
    """The changed scheduling columns, checked as creation checks them. `wait_for` names where
    a waiting task's data will appear: it may point elsewhere while the task waits (checked
    again soon), but neither start nor stop the waiting (the status says that)."""
    columns = {name: changes[name] for name in SCHEDULING_FIELDS if name in changes}
    for name in ("subject", "series"):
        if name in columns:
            check(problems, name, columns[name])
    check_scheduling(problems, columns)
    if "wait_for" in columns:
        if task.status != TaskStatus.WAITING:
            problems.add("wait_for", "wait_for may only change while the task is waiting")
        elif columns["wait_for"] is None:
            problems.add(
                "wait_for", "A waiting task needs wait_for; set its status to stop the waiting"
            )
        else:
            check_wait_for(problems, columns["wait_for"], callback_hosts)
    return columns


def _tags(session: Session, refs: Sequence[Any], problems: Problems) -> list[Tag] | None:
    """The task's new tags in id order (named ones created when new); None when any is bad."""
    if len(refs) > TAGS_PER_TASK_MAX:
        problems.add("tags", f"At most {TAGS_PER_TASK_MAX} tags per task, got {len(refs)}")
        return None
    names = [ref for ref in refs if is_tag_name(ref)]
    for name in names:
        check_tag_name(problems, name)
    others = [ref for ref in refs if not is_tag_name(ref)]
    known = resolve_tags(session, others)
    for ref in others:
        if ref not in known:
            problems.add("tags", f"Tag {ref!r} does not exist", not_found=True)
    if problems:
        return None
    created = tags_by_name(session, names)
    by_id = {tag.id: tag for tag in [*created.values(), *known.values()]}
    return [by_id[key] for key in sorted(by_id)]


def _apply_edits(session: Session, task: Task, edits: _Edits, actor: User) -> None:
    detail: dict[str, Any] = {}
    for name, value in edits.columns.items():
        old = getattr(task, name)
        if old != value:
            detail[name] = (
                {"old": old, "new": value} if name != "raw_content" else {"changed": True}
            )
            setattr(task, name, value)
    if "wait_for" in detail:
        # The new URL is checked at the next round, with a fresh count of attempts.
        task.wait_next_time = None
        task.wait_attempts = 0
        task.wait_detail = None
    if edits.template is not None and edits.template.id != task.template_id:
        detail["template"] = {"old": task.template.label, "new": edits.template.label}
        task.template = edits.template
    if edits.tags is not None:
        old_names = [tag.name for tag in task.tags]
        new_names = [tag.name for tag in edits.tags]
        if old_names != new_names:
            detail["tags"] = {"old": old_names, "new": new_names}
            task.tags = edits.tags
    if detail:
        task.update_time = utcnow()
        history.record(session, task_id=task.id, actor=actor, action="edit", detail=detail)


def _reassign(
    session: Session,
    task: Task,
    users: list[User] | None,
    groups: list[Group] | None,
    actor: User,
) -> None:
    old = assignment_detail(task.users, task.groups)
    if users is not None:
        task.users = users
    if groups is not None:
        task.groups = groups
    new = assignment_detail(task.users, task.groups)
    if new != old:
        task.update_time = utcnow()
        history.record(
            session, task_id=task.id, actor=actor, action="assign", detail={"old": old, "new": new}
        )


def _lock_or_raise(session: Session, task: Task) -> None:
    """Lock the task's row for the rest of the transaction; NotFound when it was deleted.

    A change then waits for a concurrent change or deletion of the task to end, and finds the
    task gone here rather than as a row missing when its changes are flushed.
    """
    query = select(Task.id).where(Task.id == task.id).with_for_update(key_share=True)
    if session.execute(query).first() is None:
        raise NotFound(f"Task {task.id} does not exist", field="task")


def delete(session: Session, *, task: Task) -> None:
    """Remove a task with its links and history (callback rows stay, detached)."""
    result = session.execute(
        sql_delete(Task).where(Task.id == task.id).execution_options(synchronize_session=False)
    )
    session.expunge(task)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"Task {task.id} does not exist", field="task")
