"""The old TaskManager's tables (task-manager 6.6.0: Flask-SQLAlchemy `create_all`, with
Flask-Security-Too 4's user and role columns), as far as the legacy import reads them, and a
small realistic data set in them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import bcrypt
from passlib.context import CryptContext
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UnicodeText,
    create_engine,
)

from taskmanager.config import normalise_database_uri

metadata = MetaData()


def _key(table: str, column: str = "id") -> ForeignKey:
    return ForeignKey(f"{table}.{column}")


def _when() -> Column[Any]:
    return Column("create_time", DateTime(timezone=True))


role = Table(
    "role",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), unique=True, nullable=False),
    Column("description", String(255)),
    Column("permissions", UnicodeText),
    Column("update_datetime", DateTime),
)
user = Table(
    "user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), unique=True, nullable=False),
    Column("name", String(64), nullable=False),
    Column("email", String(255), unique=True, nullable=False),
    Column("password", String(128), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("fs_uniquifier", String(64), unique=True, nullable=False),
    Column("confirmed_at", DateTime),
    Column("last_login_at", DateTime),
    Column("current_login_at", DateTime),
    Column("last_login_ip", String(64)),
    Column("current_login_ip", String(64)),
    Column("login_count", Integer),
    Column("tf_primary_method", String(64)),
    Column("tf_totp_secret", String(255)),
    Column("tf_phone_number", String(128)),
    _when(),
    Column("assignment_weight", Float, nullable=False),
)
roles_users = Table(
    "roles_users",
    metadata,
    Column("user_id", Integer, _key("user")),
    Column("role_id", Integer, _key("role")),
)
group = Table(
    "group",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("groupname", String(64), unique=True, nullable=False),
    Column("name", String(64), unique=True, nullable=False),
    _when(),
)
group_membership = Table(
    "group_membership",
    metadata,
    Column("user_id", Integer, _key("user"), primary_key=True),
    Column("group_id", Integer, _key("group"), primary_key=True),
)
task_template = Table(
    "task_template",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("label", String(64), unique=True, nullable=False),
    Column("content", Text),
)
tag = Table(
    "tag",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(32), unique=True, nullable=False),
)
task_group = Table(
    "task_group",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("label", String(64)),
    Column("callback_url", Text),
    Column("callback_content", Text),
    Column("callback_fired", Boolean),
)
task = Table(
    "task",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project", String(64)),
    Column("status", String(32)),
    Column("lock_id", Integer, _key("user")),
    Column("content", Text),
    Column("raw_content", Text),
    Column("callback_url", Text),
    Column("raw_callback_url", Text),
    Column("callback_content", Text),
    Column("parent_id", Integer, _key("task_group")),
    Column("template_id", Integer, _key("task_template")),
    Column("tracking_id", String(100), nullable=False),
    _when(),
    Column("update_time", DateTime(timezone=True)),
    Column("generator_url", String(512)),
    Column("application_name", String(32)),
    Column("application_version", String(16)),
)
task_user_links = Table(
    "task_user_links",
    metadata,
    Column("task_id", Integer, _key("task"), primary_key=True),
    Column("user_id", Integer, _key("user"), primary_key=True),
    _when(),
)
task_group_links = Table(
    "task_group_links",
    metadata,
    Column("task_id", Integer, _key("task"), primary_key=True),
    Column("group_id", Integer, _key("group"), primary_key=True),
)
tag_task_links = Table(
    "tag_task_links",
    metadata,
    Column("task_id", Integer, _key("task"), primary_key=True),
    Column("tag_id", Integer, _key("tag"), primary_key=True),
)
meta = Table(
    "meta",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("label", String(128), unique=True, nullable=False),
    Column("value", Text),
)
meta_history = Table(
    "meta_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("meta_id", Integer, _key("meta"), nullable=False),
    Column("timestamp", DateTime(timezone=True)),
    Column("value", Text),
)

PASSWORDS = {"alice": "alice-old-secret", "bob": "bob-old-secret", "carol": "carol-old-secret"}
SALT = "test-salt"  # the old server's SECURITY_PASSWORD_SALT, the same as the new one's
T0 = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
T1 = datetime(2024, 3, 2, 14, 0, tzinfo=UTC)
CONTENT = '{"scan": "$DATA_ROOT/scan_%d.nii.gz", "label": "hippocampus"}'


def old_hash(password: str, scheme: str) -> str:
    """A hash as Flask-Security 4 stored it: the scheme (bcrypt was its default) over the
    base64 HMAC-SHA512 of the password keyed with SECURITY_PASSWORD_SALT."""
    secret = base64.b64encode(hmac.new(SALT.encode(), password.encode(), hashlib.sha512).digest())
    if scheme == "bcrypt":
        # bcrypt 3 (the old server's) silently used the first 72 bytes; bcrypt 5 refuses more.
        return bcrypt.hashpw(secret[:72], bcrypt.gensalt(rounds=4)).decode()
    # A short salt keeps the hash inside the old 128-character column.
    context = CryptContext(schemes=[scheme], **{f"{scheme}__salt_size": 8})
    return context.hash(secret.decode())


def rows() -> dict[Table, list[dict[str, Any]]]:
    """A study in progress: three people, a group with weights, a template, five tasks."""
    people = [
        ("alice", "bcrypt", 3.0, 11),
        ("bob", "pbkdf2_sha512", 0.5, 12),
        ("carol", "bcrypt", 1.0, 15),
    ]
    users = [
        {
            "id": user_id,
            "username": name,
            "name": name.title(),
            "email": f"{name}@hospital.example",
            "password": old_hash(PASSWORDS[name], scheme),
            "active": True,
            "fs_uniquifier": f"uniq-{name}",
            "confirmed_at": T0.replace(tzinfo=None),
            "login_count": 4,
            "create_time": T0,
            "assignment_weight": weight,
        }
        for name, scheme, weight, user_id in people
    ]
    tasks = [
        {
            "id": task_id,
            "project": "hippo",
            "status": status,
            "lock_id": lock,
            "content": CONTENT.replace("$DATA_ROOT", "/data/old") % task_id,
            "raw_content": CONTENT % task_id,
            "callback_url": f"http://pacs.example/cb/{task_id}",
            "raw_callback_url": f"$CB_ROOT/cb/{task_id}",
            "callback_content": f'{{"task": {task_id}}}',
            "parent_id": 2 if task_id in (41, 42) else None,
            "template_id": 7,
            "tracking_id": f"trk-{task_id}",
            "create_time": T0,
            "update_time": T1,
            "generator_url": "http://gen.example/run/1",
            "application_name": "ViewR",
            "application_version": "5.1.0",
        }
        for task_id, status, lock in (
            (40, "queued", None),
            (41, "queued", 11),
            (42, "done", None),
            (43, "aborted", None),
            (47, "queued", None),
        )
    ]
    return {
        role: [
            {
                "id": 1,
                "name": "admin",
                "description": "admin",
                "permissions": "roles_manage,task_add",
            },
            {
                "id": 2,
                "name": "superuser",
                "description": "superuser",
                "permissions": "task_read_all",
            },
            {
                "id": 3,
                "name": "user",
                "description": "user",
                "permissions": "task_read,task_update_status,user_read,group_read",
            },
            {
                "id": 4,
                "name": "reviewer",
                "description": "reviews",
                "permissions": "task_read_all,tag_add",
            },
        ],
        user: users,
        # The old table had no key: a repeated row is possible.
        roles_users: [
            {"user_id": 11, "role_id": 3},
            {"user_id": 11, "role_id": 3},
            {"user_id": 12, "role_id": 3},
            {"user_id": 12, "role_id": 4},
            {"user_id": 15, "role_id": 1},
        ],
        group: [{"id": 5, "groupname": "raters", "name": "Raters", "create_time": T0}],
        group_membership: [{"user_id": 11, "group_id": 5}, {"user_id": 12, "group_id": 5}],
        task_template: [{"id": 7, "label": "landmarks", "content": "<xml>landmarks</xml>"}],
        tag: [{"id": 3, "name": "batch-1"}, {"id": 9, "name": "urgent"}],
        task_group: [
            {
                "id": 2,
                "label": "subject-001",
                "callback_url": "http://pacs.example/group/2",
                "callback_content": '{"group": 2}',
                "callback_fired": False,
            }
        ],
        task: tasks,
        task_user_links: [
            {"task_id": 40, "user_id": 11, "create_time": T0},
            {"task_id": 41, "user_id": 11, "create_time": T0},
            {"task_id": 42, "user_id": 12, "create_time": T0},
        ],
        task_group_links: [{"task_id": 43, "group_id": 5}, {"task_id": 47, "group_id": 5}],
        tag_task_links: [
            {"task_id": 40, "tag_id": 3},
            {"task_id": 40, "tag_id": 9},
            {"task_id": 42, "tag_id": 3},
        ],
        meta: [
            {"id": 1, "label": "DATA_ROOT", "value": "/data/new"},
            {"id": 2, "label": "CB_ROOT", "value": "http://pacs.example"},
        ],
        meta_history: [
            {"id": 1, "meta_id": 1, "timestamp": T0, "value": "/data/old"},
            {"id": 2, "meta_id": 1, "timestamp": T1, "value": "/data/new"},
            {"id": 3, "meta_id": 2, "timestamp": T0, "value": "http://pacs.example"},
        ],
    }


def build(
    url: str,
    *,
    leave_out: tuple[str, ...] = (),
    extra: dict[str, list[dict[str, Any]]] | None = None,
) -> None:
    """Create the old tables (but `leave_out`) in the empty database at `url` and fill them."""
    engine = create_engine(normalise_database_uri(url))
    tables = [table for table in metadata.sorted_tables if table.name not in leave_out]
    try:
        metadata.create_all(engine, tables=tables)
        with engine.begin() as connection:
            data = rows()
            for table in tables:
                records = data.get(table, []) + (extra or {}).get(table.name, [])
                if records:
                    full = [
                        {column.name: row.get(column.name) for column in table.c} for row in records
                    ]
                    connection.execute(table.insert(), full)
    finally:
        engine.dispose()
