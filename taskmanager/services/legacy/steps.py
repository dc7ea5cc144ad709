"""The old schema's tables, step by step: where each goes and how its rows are carried over."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
)

from ...models import (
    Base,
    Group,
    Meta,
    MetaHistory,
    Role,
    Tag,
    Task,
    TaskGroup,
    TaskStatus,
    TaskTemplate,
    User,
    group_membership,
    roles_users,
    task_groups_assigned,
    task_tags,
    task_users,
)
from ..kit.errors import DomainError

# Rows a server writes for itself before any data (throttling counters, the schema revision, the
# fingerprints of its secrets) do not make a target "hold data".
IGNORED_TARGET_TABLES = {"login_failures", "alembic_version", "site_facts"}
# Our columns that are shorter than the old server's (Text there).
MAX_LENGTHS = {
    ("tasks", "raw_callback_url"): 512,
    ("taskgroups", "raw_callback_url"): 512,
    ("meta", "label"): 64,
}

Row = dict[str, Any]


class LegacyImportError(DomainError):
    """The import cannot go ahead; nothing was written."""


@dataclass(frozen=True)
class Step:
    """One old table copied into one of ours."""

    source: str
    target: Table
    columns: tuple[str, ...]  # the old columns that must exist
    convert: Callable[[Row, datetime], Row]
    optional_columns: tuple[str, ...] = ()
    optional_table: bool = False
    link: bool = False  # no primary key in the old table: drop repeated rows


def _text_list(value: Any) -> list[str] | None:
    """Role permissions: comma-separated text (Flask-Security 4) or a JSON list."""
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    value = str(value).strip()
    if value.startswith("["):
        return [str(item) for item in json.loads(value)]
    return [part.strip() for part in value.split(",") if part.strip()]


def _role(row: Row, now: datetime) -> Row:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row.get("description"),
        "permissions": _text_list(row.get("permissions")),
        "update_datetime": row.get("update_datetime") or now,
    }


def _user(row: Row, now: datetime) -> Row:
    return {
        "id": row["id"],
        "username": row["username"],
        "name": row.get("name"),
        "email": row["email"],
        "password": row.get("password"),
        "active": bool(row["active"]) if row.get("active") is not None else True,
        "fs_uniquifier": row.get("fs_uniquifier") or uuid.uuid4().hex,
        # The old server let unconfirmed accounts use the API (accounts made through its API
        # never were confirmed); this one asks the same of every way in, so an account carried
        # over counts as confirmed since it was made, and its clients keep working.
        "confirmed_at": row.get("confirmed_at") or row.get("create_time") or now,
        "create_time": row.get("create_time") or now,
        "assignment_weight": 1.0
        if row.get("assignment_weight") is None
        else float(row["assignment_weight"]),
        "assignment_pass": 0.0,
        "assignment_start": 0.0,
        "last_login_at": row.get("last_login_at"),
        "current_login_at": row.get("current_login_at"),
        "last_login_ip": row.get("last_login_ip"),
        "current_login_ip": row.get("current_login_ip"),
        "login_count": row.get("login_count"),
    }


def _group(row: Row, now: datetime) -> Row:
    return {
        "id": row["id"],
        "groupname": row["groupname"],
        "name": row["name"],
        "create_time": row.get("create_time") or now,
    }


def _template(row: Row, now: datetime) -> Row:
    return {"id": row["id"], "label": row["label"], "content": row.get("content") or ""}


def _tag(row: Row, now: datetime) -> Row:
    return {"id": row["id"], "name": row["name"]}


def _taskgroup(row: Row, now: datetime) -> Row:
    return {
        "id": row["id"],
        "label": row.get("label") or "",
        "raw_callback_url": row.get("callback_url"),
        "callback_content": row.get("callback_content"),
        "callback_fired": bool(row.get("callback_fired")),
        "create_time": now,
    }


def _task(row: Row, now: datetime) -> Row:
    if row.get("template_id") is None:
        raise LegacyImportError(
            f"task {row['id']} has no template; give it one in the old database first",
            field="task.template_id",
        )
    raw_content = row.get("raw_content")
    raw_callback_url = row.get("raw_callback_url")
    status = row.get("status") or TaskStatus.QUEUED
    update_time = row.get("update_time") or row.get("create_time") or now
    return {
        "id": row["id"],
        "project": row.get("project") or "",
        "status": status,
        "lock_id": row.get("lock_id"),
        # The old server kept no lock or done times: a lease starts at the import, and a done
        # task was done at its last change.
        "lock_time": now if row.get("lock_id") is not None else None,
        "raw_content": raw_content if raw_content is not None else (row.get("content") or ""),
        "raw_callback_url": raw_callback_url
        if raw_callback_url is not None
        else row.get("callback_url"),
        "callback_content": row.get("callback_content"),
        "tracking_id": row.get("tracking_id") or "unassigned",
        "generator_url": row.get("generator_url"),
        "application_name": row.get("application_name"),
        "application_version": row.get("application_version"),
        "create_time": row.get("create_time") or now,
        "update_time": update_time,
        "template_id": row["template_id"],
        "taskgroup_id": row.get("parent_id"),
        "done_by_id": None,
        "done_time": update_time if status == TaskStatus.DONE else None,
        # The old server had no scheduling: nothing waits to be handed out.
        "dispatch_group_id": None,
    }


def _meta(row: Row, now: datetime) -> Row:
    return {"id": row["id"], "label": row["label"], "value": row.get("value") or ""}


def _meta_history(row: Row, now: datetime) -> Row:
    return {
        "id": row["id"],
        "meta_id": row["meta_id"],
        "timestamp": row.get("timestamp") or now,
        "value": row.get("value") or "",
    }


def _renamed(**names: str) -> Callable[[Row, datetime], Row]:
    """A link row: our column name = the old column name."""
    return lambda row, now: {ours: row[theirs] for ours, theirs in names.items()}


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


LOGIN_COLUMNS = (
    "fs_uniquifier",
    "confirmed_at",
    "last_login_at",
    "current_login_at",
    "last_login_ip",
    "current_login_ip",
    "login_count",
)
TASK_COLUMNS = (
    "id",
    "project",
    "status",
    "lock_id",
    "content",
    "raw_content",
    "callback_url",
    "raw_callback_url",
    "callback_content",
    "parent_id",
    "template_id",
    "tracking_id",
    "create_time",
    "update_time",
)

STEPS = (
    Step(
        "role",
        _table(Role),
        ("id", "name"),
        _role,
        ("description", "permissions", "update_datetime"),
    ),
    Step(
        "user",
        _table(User),
        ("id", "username", "name", "email", "password", "active"),
        _user,
        (*LOGIN_COLUMNS, "create_time", "assignment_weight"),
    ),
    Step(
        "roles_users",
        roles_users,
        ("user_id", "role_id"),
        _renamed(user_id="user_id", role_id="role_id"),
        link=True,
    ),
    Step("group", _table(Group), ("id", "groupname", "name"), _group, ("create_time",)),
    Step(
        "group_membership",
        group_membership,
        ("group_id", "user_id"),
        _renamed(group_id="group_id", user_id="user_id"),
        link=True,
    ),
    Step("task_template", _table(TaskTemplate), ("id", "label", "content"), _template),
    Step("tag", _table(Tag), ("id", "name"), _tag),
    Step(
        "task_group",
        _table(TaskGroup),
        ("id", "label", "callback_url", "callback_content"),
        _taskgroup,
        ("callback_fired",),
    ),
    Step(
        "task",
        _table(Task),
        TASK_COLUMNS,
        _task,
        ("generator_url", "application_name", "application_version"),
    ),
    Step(
        "task_user_links",
        task_users,
        ("task_id", "user_id"),
        _renamed(task_id="task_id", user_id="user_id"),
        link=True,
    ),
    Step(
        "task_group_links",
        task_groups_assigned,
        ("task_id", "group_id"),
        _renamed(task_id="task_id", group_id="group_id"),
        link=True,
    ),
    Step(
        "tag_task_links",
        task_tags,
        ("task_id", "tag_id"),
        _renamed(task_id="task_id", tag_id="tag_id"),
        link=True,
    ),
    Step("meta", _table(Meta), ("id", "label", "value"), _meta, optional_table=True),
    Step(
        "meta_history",
        _table(MetaHistory),
        ("id", "meta_id", "value"),
        _meta_history,
        ("timestamp",),
        optional_table=True,
    ),
)
# Tables whose ids we write, so PostgreSQL's sequences must move past them.
SEQUENCED = tuple(step.target for step in STEPS if not step.link)
# Old tables of links (no id of their own): a link to a missing row is left out, not cleared.
LINK_TABLES = frozenset(step.source for step in STEPS if step.link)
