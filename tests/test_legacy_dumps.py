"""The legacy fixtures: each backend's real task-manager 6.6.0 dump restores with every row."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import bcrypt
from sqlalchemy import MetaData, Table, create_engine, func, inspect, select

from .support import legacy_dumps


def test_the_dump_restores_with_every_row(tmp_path: Path) -> None:
    expected = legacy_dumps.manifest()
    with legacy_dumps.restored_database(tmp_path) as url:
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                tables = sorted(inspect(connection).get_table_names())
                counts = {
                    name: connection.scalar(
                        select(func.count()).select_from(
                            Table(name, MetaData(), autoload_with=connection)
                        )
                    )
                    for name in tables
                }
                meta = MetaData()
                user = Table("user", meta, autoload_with=connection)
                task = Table("task", meta, autoload_with=connection)
                hashes = dict(connection.execute(select(user.c.username, user.c.password)).all())
                statuses = dict(
                    connection.execute(
                        select(task.c.status, func.count()).group_by(task.c.status)
                    ).all()
                )
                locks = {
                    str(task_id): username
                    for task_id, username in connection.execute(
                        select(task.c.id, user.c.username).join(user, task.c.lock_id == user.c.id)
                    )
                }
                samples = {
                    row.id: row
                    for row in connection.execute(
                        select(task).where(
                            task.c.id.in_([s["id"] for s in expected["sample_tasks"]])
                        )
                    )
                }
        finally:
            engine.dispose()

    assert counts == expected["row_counts"]
    assert "alembic_version" not in tables
    assert hashes == {u["username"]: u["password_hash"] for u in expected["users"]}
    assert statuses == expected["status_counts"]
    assert locks == expected["locks"]
    for sample in expected["sample_tasks"]:
        row = samples[sample["id"]]
        assert (row.status, row.content, row.raw_content, row.tracking_id) == (
            sample["status"],
            sample["content"],
            sample["raw_content"],
            sample["tracking_id"],
        )


def test_every_backend_holds_the_same_logical_content() -> None:
    manifests = [legacy_dumps.manifest(backend) for backend in legacy_dumps.BACKENDS]
    for key in (
        "row_counts",
        "status_counts",
        "locks",
        "groups",
        "roles",
        "templates",
        "tags",
        "meta",
    ):
        assert all(m[key] == manifests[0][key] for m in manifests), key
    tasks = [
        [{k: v for k, v in s.items() if k != "content"} for s in m["sample_tasks"]]
        for m in manifests
    ]
    assert all(t == tasks[0] for t in tasks)
    assert {u["username"]: u["password"] for u in manifests[0]["users"]}["admin"]


def test_the_manifest_passwords_match_the_old_hashes() -> None:
    """Flask-Security 4 hashed bcrypt(base64(HMAC-SHA512(salt, password))), salt in the manifest."""
    expected = legacy_dumps.manifest()
    salt = expected["config"]["SECURITY_PASSWORD_SALT"].encode()
    user = next(u for u in expected["users"] if u["username"] == "alice")
    prehash = base64.b64encode(hmac.new(salt, user["password"].encode(), hashlib.sha512).digest())
    # The old bcrypt silently used the first 72 bytes of the 88; bcrypt 5 refuses longer input.
    assert bcrypt.checkpw(prehash[:72], user["password_hash"].encode())
