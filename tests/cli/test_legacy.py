"""`taskmanager import-legacy`: an old TaskManager's database comes over whole, or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from taskmanager.cli import main
from taskmanager.models import Role, Task, User

from ..conftest import basic_auth, make_env
from ..support import databases, legacy_schema
from ..support.legacy_schema import PASSWORDS, T1


@pytest.fixture
def source_url(tmp_path: Path) -> Iterator[str]:
    url = databases.create_database(tmp_path, prefix="tm_legacy")
    yield url
    databases.drop_database(url)


def import_legacy(database_url: str, tmp_path: Path, source: str, *options: str) -> Result:
    env = make_env(database_url, tmp_path / "instance")
    return CliRunner().invoke(main, ["import-legacy", "--from", source, *options], env=env)


def login(name: str) -> dict[str, str]:
    return basic_auth(name, PASSWORDS[name])


def get(client: Any, path: str, headers: dict[str, str]) -> Any:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.get_json())
    return response.get_json()


def test_everything_comes_over_with_ids_and_passwords(
    app: Any, client: Any, session: Any, database_url: str, source_url: str, tmp_path: Path
) -> None:
    legacy_schema.build(source_url)

    dry = import_legacy(database_url, tmp_path, source_url, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "tasks: 5" in dry.output and "nothing was written" in dry.output
    assert session.scalar(select(func.count()).select_from(Task)) == 0

    result = import_legacy(database_url, tmp_path, source_url)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "users: 3" in result.output and "roles_users: 4" in result.output

    alice, bob, carol = login("alice"), login("bob"), login("carol")
    task = get(client, "/api/v1/tasks/41", alice)
    assert task["uri"] == "/api/v1/tasks/41"
    # Rendered with today's meta value, not the one the old server had baked in.
    assert task["content"] == '{"scan": "/data/new/scan_41.nii.gz", "label": "hippocampus"}'
    assert task["callback_url"] == "http://pacs.example/cb/41"
    assert task["callback_content"] == '{"task": 41}'
    assert task["users"] == ["/api/v1/users/11"]
    assert task["template"] == "/api/v1/task_templates/7"
    assert (task["tracking_id"], task["application_version"]) == ("trk-41", "5.1.0")
    assert get(client, "/api/v1/tasks/41/lock", alice)["username"] == "alice"

    assert get(client, "/api/v1/tasks/40", carol)["tags"] == ["/api/v1/tags/3", "/api/v1/tags/9"]
    assert get(client, "/api/v1/tasks/43", carol)["status"] == "aborted"
    assert get(client, "/api/v1/tasks/47", carol)["groups"] == ["/api/v1/groups/5"]
    group = get(client, "/api/v1/taskgroups/2", carol)
    assert group["label"] == "subject-001"
    assert sorted(t["id"] for t in group["tasks"]) == ["41", "42"]
    assert get(client, "/api/v1/users/12", carol)["assignment_weight"] == 0.5
    members = get(client, "/api/v1/groups/5/users", carol)
    assert "/api/v1/users/11" in str(members) and "/api/v1/users/12" in str(members)
    meta = get(client, "/api/v1/meta/DATA_ROOT", carol)
    assert [entry["value"] for entry in meta["history"]] == ["/data/old", "/data/new"]
    reviewer = get(client, "/api/v1/roles/4", carol)
    assert sorted(reviewer["permissions"]) == ["tag_add", "task_read_all"]
    # The default roles get this server's permission sets back; carol stays an admin.
    assert "user_add" in get(client, "/api/v1/roles/1", carol)["permissions"]
    assert get(client, "/api/v1/tasks/42", bob)["status"] == "done"

    done = session.get(Task, 42)
    assert done.done_time == T1 and session.get(Task, 41).lock_time is not None
    # Both old hashes (bob's pbkdf2, alice's bcrypt) verified and were replaced at the login.
    assert session.get(User, 12).password.startswith("$argon2")
    assert session.get(User, 11).password.startswith("$argon2")
    # The admin account from TASKMAN_ADMIN_* is back, after the old ids.
    admin = session.scalars(select(User).where(User.username == "admin")).one()
    assert admin.id > 15 and [role.name for role in admin.roles] == ["admin"]

    created = client.post(
        "/api/v1/tasks",
        json={"project": "hippo", "template": "landmarks", "content": "{}", "users": ["alice"]},
        headers=carol,
    )
    assert created.status_code == 201, created.get_json()
    # After the highest imported id (47): exactly 48 where the import resets the sequence
    # (PostgreSQL, SQLite); MariaDB's counter may already be further on.
    new_id = int(created.get_json()["id"])
    assert new_id > 47
    if databases.backend_name() != "mysql":  # MariaDB
        assert new_id == 48

    again = import_legacy(database_url, tmp_path, source_url)
    assert again.exit_code == 1
    assert "already holds data" in again.output and "row(s) in tasks" in again.output
    assert session.scalar(select(func.count()).select_from(Task)) == 6


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ({"leave_out": ("task_user_links",)}, "table 'task_user_links' is missing"),
        (
            # Fails while writing tasks, after the users, groups and templates went in.
            {
                "extra": {
                    "task": [
                        {
                            "id": 48,
                            "template_id": 7,
                            "tracking_id": "x",
                            "raw_callback_url": "http://x/" + "a" * 600,
                        }
                    ]
                }
            },
            "task 48: raw_callback_url is 609 characters",
        ),
    ],
    ids=["missing-table", "too-long-url"],
)
def test_a_broken_source_changes_nothing(
    app: Any,
    client: Any,
    session: Any,
    database_url: str,
    source_url: str,
    tmp_path: Path,
    broken: dict[str, Any],
    expected: str,
) -> None:
    legacy_schema.build(source_url, **broken)

    result = import_legacy(database_url, tmp_path, source_url)

    assert result.exit_code == 1 and expected in result.output, result.output
    assert session.scalars(select(User.username)).all() == ["admin"]
    assert sorted(session.scalars(select(Role.name))) == ["admin", "superuser", "user"]
    assert session.scalar(select(func.count()).select_from(Task)) == 0
    assert client.get("/api/v1/users", headers=basic_auth("admin", "admin")).status_code == 200


def test_links_to_rows_the_old_database_lost_are_left_out_and_counted(
    app: Any, client: Any, session: Any, database_url: str, tmp_path: Path
) -> None:
    # The old server on SQLite did not enforce its foreign keys: links and a lock can name a
    # user or task deleted long ago. (SQLite without PRAGMA foreign_keys accepts them here too.)
    source = f"sqlite:///{tmp_path / 'old.db'}"
    orphans = {
        "task": [{"id": 48, "template_id": 7, "tracking_id": "t48", "lock_id": 98}],
        "task_user_links": [{"task_id": 41, "user_id": 99}, {"task_id": 999, "user_id": 11}],
        "tag_task_links": [{"task_id": 999, "tag_id": 3}],
        "roles_users": [{"user_id": 97, "role_id": 3}],
    }
    legacy_schema.build(source, extra=orphans)

    result = import_legacy(database_url, tmp_path, source)

    assert result.exit_code == 0, (result.output, result.exception)
    assert "task_user_links: 1 row(s) whose user_id names nothing" in result.output
    assert "task_user_links: 1 row(s) whose task_id names nothing" in result.output
    assert "tag_task_links: 1 row(s) whose task_id names nothing" in result.output
    assert "roles_users: 1 row(s) whose user_id names nothing" in result.output
    assert "task: 1 row(s) whose lock_id names nothing in the old database: lock_id cleared" in (
        result.output
    )
    assert "tasks: 6" in result.output and "task_users: 3" in result.output
    admin = basic_auth("admin", "admin")
    assert get(client, "/api/v1/tasks/48/lock", admin)["username"] is None
    assert [uri.rsplit("/", 1)[1] for uri in get(client, "/api/v1/tasks/41", admin)["users"]] == [
        "11"
    ]
