"""An old TaskManager's database (task-manager 6.6) is upgraded in place by `db upgrade` and at
start-up: everything is kept, a second upgrade does nothing, and a failure or a schema it does not
know changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, func, inspect, select, table, text

from taskmanager import create_app, database
from taskmanager.cli import main
from taskmanager.config import load_settings
from taskmanager.models import Base, db
from taskmanager.services.legacy import legacy_upgrade

from .conftest import basic_auth, make_env
from .support import databases, legacy_dumps, legacy_schema
from .support.legacy_schema import PASSWORDS

OLD_TABLES = sorted(table.name for table in legacy_schema.metadata.sorted_tables)


@pytest.fixture
def old_url(tmp_path: Path) -> Iterator[str]:
    url = databases.create_database(tmp_path, prefix="tm_inplace")
    yield url
    databases.drop_database(url)


def snapshot(url: str) -> dict[str, Any]:
    """Every table with its row count, and the Alembic revision (None: no alembic_version)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            names = sorted(inspect(connection).get_table_names())
            counts = {
                name: connection.execute(select(func.count()).select_from(table(name))).scalar()
                for name in names
            }
            revision = (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if "alembic_version" in names
                else None
            )
            return {"tables": counts, "revision": revision}
    finally:
        engine.dispose()


def db_upgrade(url: str, tmp_path: Path, *options: str) -> Result:
    env = make_env(url, tmp_path / "instance")
    return CliRunner().invoke(main, ["db", "upgrade", *options], env=env)


def start_server(url: str, tmp_path: Path) -> Any:
    """create_app as every start does it: migrates (auto_migrate) and onboards."""
    app = create_app(load_settings(make_env(url, tmp_path / "instance")))
    app.config["TESTING"] = True
    return app


def stop_server(app: Any) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def get(client: Any, path: str, headers: dict[str, str]) -> Any:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.get_json())
    return response.get_json()


def assert_schema_is_ours(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": False}),
                Base.metadata,
            )
        assert differences == []
    finally:
        engine.dispose()


def test_db_upgrade_dry_run_then_in_place_then_nothing_more(old_url: str, tmp_path: Path) -> None:
    legacy_schema.build(old_url)
    before = snapshot(old_url)
    assert sorted(before["tables"]) == OLD_TABLES and before["revision"] is None

    dry = db_upgrade(old_url, tmp_path, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "task -> tasks: 5 row(s)" in dry.output and "user -> users: 3 row(s)" in dry.output
    assert "nothing was changed" in dry.output
    assert snapshot(old_url) == before

    result = db_upgrade(old_url, tmp_path)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Converted the old TaskManager's tables" in result.output
    after = snapshot(old_url)
    head = database.current_revision(old_url)
    assert after["revision"] == head
    assert set(after["tables"]) == {t.name for t in Base.metadata.sorted_tables} | {
        "alembic_version"
    }
    counts = after["tables"]
    assert (counts["users"], counts["roles"], counts["tasks"], counts["task_users"]) == (3, 4, 5, 3)
    assert (counts["meta"], counts["meta_history"], counts["task_tags"]) == (2, 3, 3)
    # The repeated old roles_users row is copied once.
    assert counts["roles_users"] == 4 and counts["group_membership"] == 2
    assert_schema_is_ours(old_url)

    again = db_upgrade(old_url, tmp_path)
    assert again.exit_code == 0, again.output
    assert "Converted" not in again.output
    assert snapshot(old_url) == after


def test_server_start_upgrades_in_place_and_old_passwords_work(
    old_url: str, tmp_path: Path
) -> None:
    legacy_schema.build(old_url)
    app = start_server(old_url, tmp_path)
    try:
        client = app.test_client()
        alice = basic_auth("alice", PASSWORDS["alice"])
        carol = basic_auth("carol", PASSWORDS["carol"])
        task = get(client, "/api/v1/tasks/41", alice)
        assert task["content"] == '{"scan": "/data/new/scan_41.nii.gz", "label": "hippocampus"}'
        assert task["users"] == ["/api/v1/users/11"] and task["tracking_id"] == "trk-41"
        assert get(client, "/api/v1/tasks/41/lock", alice)["username"] == "alice"
        assert get(client, "/api/v1/tasks/40", carol)["tags"] == [
            "/api/v1/tags/3",
            "/api/v1/tags/9",
        ]
        meta = get(client, "/api/v1/meta/DATA_ROOT", carol)
        assert [entry["value"] for entry in meta["history"]] == ["/data/old", "/data/new"]
        # Onboarding ran after the upgrade: the admin role has this server's permissions.
        assert "user_add" in get(client, "/api/v1/roles/1", carol)["permissions"]
        created = client.post(
            "/api/v1/tasks",
            json={"project": "hippo", "template": "landmarks", "content": "{}", "users": ["bob"]},
            headers=carol,
        )
        assert created.status_code == 201, created.get_json()
        assert int(created.get_json()["id"]) > 47
    finally:
        stop_server(app)
    # A second start finds the schema current and changes nothing more.
    settled = snapshot(old_url)
    stop_server(start_server(old_url, tmp_path))
    assert snapshot(old_url) == settled


def _fail_after_copying(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("injected failure after the rows were copied")


@pytest.mark.parametrize("where", ["a row our schema refuses", "after the copy"])
def test_a_failure_part_way_leaves_the_old_database_untouched(
    old_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # A meta label longer than ours (64) stops the copy at its last tables, after the tasks.
    extra = {"meta": [{"id": 3, "label": "X" * 100, "value": "v"}]}
    legacy_schema.build(old_url, extra=extra if where.startswith("a row") else None)
    if where == "after the copy":
        monkeypatch.setattr(legacy_upgrade.onboarding, "ensure_roles", _fail_after_copying)
    before = snapshot(old_url)

    result = db_upgrade(old_url, tmp_path)
    assert result.exit_code != 0
    if where.startswith("a row"):
        assert "longer than the 64 this server stores" in result.output
    else:
        assert isinstance(result.exception, RuntimeError)
    assert snapshot(old_url) == before

    monkeypatch.undo()
    if where == "after the copy":
        # Nothing was left half-done: the next run converts it.
        assert db_upgrade(old_url, tmp_path).exit_code == 0
        assert snapshot(old_url)["tables"]["tasks"] == 5


def execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def _our_table_too(url: str) -> None:
    legacy_schema.build(url)
    execute(url, "CREATE TABLE users (id INTEGER PRIMARY KEY)")


def _unknown_revision(url: str) -> None:
    legacy_schema.build(url)
    execute(
        url,
        "CREATE TABLE alembic_version (version_num VARCHAR(32))",
        "INSERT INTO alembic_version VALUES ('3f2a9c1b7d4e')",
    )


def _missing_column(url: str) -> None:
    legacy_schema.build(url)
    execute(url, "ALTER TABLE task_template DROP COLUMN content")


def _someone_elses_table(url: str) -> None:
    legacy_schema.build(url)
    execute(url, "CREATE TABLE audit_log (id INTEGER PRIMARY KEY)")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_our_table_too, "tables of this server (users) but no alembic_version"),
        (_unknown_revision, "Alembic revision 3f2a9c1b7d4e is not one of this server's"),
        (_missing_column, "column task_template.content is missing"),
        (_someone_elses_table, "besides an old TaskManager's tables it holds audit_log"),
        (
            lambda url: legacy_schema.build(url, leave_out=("tag_task_links",)),
            "table 'tag_task_links' is missing",
        ),
    ],
)
def test_a_schema_it_does_not_know_is_refused_unchanged(
    old_url: str, tmp_path: Path, make: Any, reason: str
) -> None:
    make(old_url)
    before = snapshot(old_url)
    for options in (("--dry-run",), ()):
        result = db_upgrade(old_url, tmp_path, *options)
        assert result.exit_code == 1, result.output
        assert "not one this server can upgrade" in result.output
        assert reason in result.output
        assert "Traceback" not in result.output
        assert snapshot(old_url) == before


def test_server_start_refuses_an_unknown_schema(old_url: str, tmp_path: Path) -> None:
    _someone_elses_table(old_url)
    before = snapshot(old_url)
    with pytest.raises(legacy_upgrade.LegacyUpgradeError, match="audit_log"):
        create_app(load_settings(make_env(old_url, tmp_path / "instance")))
    assert snapshot(old_url) == before


# The real thing: databases the old package made and filled itself (tests/data/legacy-6.6.0).
REAL_ENV = {
    "SECRET_KEY": "legacy-fixtures-secret-key",
    "SECURITY_PASSWORD_SALT": "legacy-fixtures-salt",
}


@pytest.fixture
def real_url(tmp_path: Path) -> Iterator[str]:
    backend = "mariadb" if databases.backend_name() == "mysql" else databases.backend_name()
    if not (legacy_dumps.DATA_DIR / f"{backend}.sql.gz").exists():
        pytest.skip(f"no task-manager 6.6.0 dump for {backend}")
    with legacy_dumps.restored_database(tmp_path, prefix="tm_inplace_real") as url:
        yield url


def test_a_real_old_database_is_upgraded_in_place(real_url: str, tmp_path: Path) -> None:
    manifest = legacy_dumps.manifest()
    admin = next(user for user in manifest["users"] if user["username"] == "admin")
    env = make_env(
        real_url, tmp_path / "instance", TASKMAN_ADMIN_PASSWORD=admin["password"], **REAL_ENV
    )
    before = snapshot(real_url)
    assert before == {"tables": manifest["row_counts"], "revision": None}

    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    after = snapshot(real_url)
    assert after["revision"] == database.current_revision(real_url)
    for old, count in manifest["row_counts"].items():
        assert after["tables"][legacy_upgrade.TARGETS[old]] == count, old
    assert_schema_is_ours(real_url)

    again = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert again.exit_code == 0, again.output
    assert snapshot(real_url) == after

    app = create_app(load_settings(env))
    app.config["TESTING"] = True
    try:
        client = app.test_client()
        admin_auth = basic_auth("admin", admin["password"])
        for user in manifest["users"]:
            if not user["password"]:
                continue
            response = client.get(
                f"/api/v1/users/{user['id']}",
                headers=basic_auth(user["username"], user["password"]),
            )
            # The old password still verifies; an inactive account is refused, as it was.
            assert response.status_code == (200 if user["active"] else 401), user["username"]
        for sample in manifest["sample_tasks"]:
            task = get(client, f"/api/v1/tasks/{sample['id']}", admin_auth)
            assert task["status"] == sample["status"] and task["project"] == sample["project"]
            assert task["tracking_id"] == sample["tracking_id"]
            lock = client.get(f"/api/v1/tasks/{sample['id']}/lock", headers=admin_auth)
            if sample["lock"]:
                assert lock.get_json()["username"] == sample["lock"]
        for label, meta in manifest["meta"].items():
            answer = get(client, f"/api/v1/meta/{label}", admin_auth)
            assert [entry["value"] for entry in answer["history"]] == meta["history"]
    finally:
        stop_server(app)


def test_a_failed_upgrade_of_a_real_old_database_leaves_it_untouched(
    real_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(real_url)
    monkeypatch.setattr(legacy_upgrade.onboarding, "ensure_roles", _fail_after_copying)
    result = CliRunner().invoke(
        main, ["db", "upgrade"], env=make_env(real_url, tmp_path / "instance", **REAL_ENV)
    )
    assert isinstance(result.exception, RuntimeError)
    assert snapshot(real_url) == before


def test_after_the_upgrade_the_official_client_and_the_web_ui_see_the_old_work(
    real_url: str, tmp_path: Path
) -> None:
    """What a site checks after switching: task-client 1.0.1 (as the ViewR) signs in with an
    old user's old password, on a real server with default settings, and sees that user's
    tasks with their templates, tags and locks; the web UI lists them too."""
    import logging

    import taskclient

    from .support.servers import serve
    from .web.conftest import web_login

    manifest = legacy_dumps.manifest()
    admin = next(user for user in manifest["users"] if user["username"] == "admin")
    env = make_env(
        real_url, tmp_path / "instance", TASKMAN_ADMIN_PASSWORD=admin["password"], **REAL_ENV
    )
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    # The tasks each user was given in 6.6.0, from the database as the old server left it.
    engine = create_engine(real_url)
    try:
        with engine.connect() as connection:
            given = connection.execute(
                text(
                    "SELECT u.username, tu.task_id FROM task_users tu"
                    " JOIN users u ON u.id = tu.user_id"
                )
            ).all()
    finally:
        engine.dispose()
    samples = {sample["id"]: sample for sample in manifest["sample_tasks"]}
    # Users made through 6.6.0's API never confirmed an e-mail address; they still sign in.
    unconfirmed = [user for user in manifest["users"] if user["username"] in ("frank", "grace")]
    assert len(unconfirmed) == 2
    signed_in, compared = [], 0
    with serve(env, tmp_path, workers=1) as server:
        for user in [u for u in manifest["users"] if u["active"] and u["password"]]:
            if "user" not in user["roles"]:
                continue
            client = taskclient.connect(
                server.url,
                user=user["username"],
                password=user["password"],
                loglevel=logging.ERROR,
            )
            try:
                tasks = client.get_tasks()
                signed_in.append(user["username"])
                mine = {task_id for name, task_id in given if name == user["username"]}
                assert mine <= {task.id for task in tasks}, user["username"]
                for task in tasks:
                    sample = samples.get(task.id)
                    if sample is None:
                        continue
                    assert task.template.label == sample["template"]
                    assert sorted(tag.name for tag in task.tags) == sorted(sample["tags"])
                    assert task.lock["username"] == sample["lock"]
                    compared += 1
            finally:
                client.interface.close()
    assert {"alice", "frank", "grace"} <= set(signed_in) and compared >= 5, (signed_in, compared)

    app = create_app(load_settings(env))
    app.config["TESTING"] = True
    try:
        browser = app.test_client()
        alice = next(user for user in manifest["users"] if user["username"] == "alice")
        response = web_login(browser, "alice", alice["password"])
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        page = browser.get("/tasks?limit=100")
        text_of_page = page.get_data(as_text=True)
        assert page.status_code == 200
        alices = sorted(task_id for name, task_id in given if name == "alice")
        assert f"/tasks/{alices[0]}" in text_of_page
    finally:
        stop_server(app)
