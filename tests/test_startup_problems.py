"""Start-up problems end the real server within seconds, with one line saying why and what
fixes it (no traceback, no silent wait): checked by starting `taskmanager run` and `serve`."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from .conftest import make_env
from .support import databases
from .support.servers import TASKMANAGER, free_port, start_until_serving

LIMIT_SECONDS = 10


def start(database_url: str, tmp_path: Path, *command: str, **extra: str) -> tuple[int, str]:
    """Start the server; its exit status and what it printed, within the time limit."""
    env = {**os.environ, **make_env(database_url, tmp_path / "instance", **extra)}
    started = time.monotonic()
    result = subprocess.run(
        [TASKMANAGER, *(command or ("run",)), "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=LIMIT_SECONDS * 3,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert elapsed < LIMIT_SECONDS, f"took {elapsed:.1f} s:\n{result.stderr}"
    return result.returncode, result.stdout + result.stderr


def one_line(output: str) -> str:
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, output
    return lines[0]


def other_database(name: str) -> str:
    """The run's database server, naming a database of our choice."""
    url = make_url(databases.server_url() or "")
    return url.set(database=name).render_as_string(hide_password=False)


SERVER_ONLY = pytest.mark.skipif(
    databases.backend_name() == "sqlite", reason="needs a database server (PostgreSQL or MariaDB)"
)


@pytest.mark.parametrize("command", [("run",), ("serve", "--workers", "1")])
def test_a_database_that_is_not_there(tmp_path: Path, command: tuple[str, ...]) -> None:
    if databases.backend_name() == "sqlite":
        missing = tmp_path / "no-such-folder" / "taskmanager.db"
        status, output = start(f"sqlite:///{missing}", tmp_path, *command)
        line = one_line(output)
        assert f"cannot open the SQLite database {missing}" in line
        assert f"make sure the folder {missing.parent} exists" in line
    else:
        name = f"tm_absent_{uuid.uuid4().hex[:8]}"
        status, output = start(other_database(name), tmp_path, *command)
        line = one_line(output)
        assert f'the database "{name}" does not exist' in line, line
        assert "createdb" in line or "CREATE DATABASE" in line, line
    assert status == 1


@SERVER_ONLY
def test_credentials_the_server_refuses(tmp_path: Path) -> None:
    url = make_url(other_database(make_url(databases.server_url() or "").database or "test"))
    status, output = start(
        url.set(username="tm_nobody", password="wrong").render_as_string(hide_password=False),
        tmp_path,
    )
    line = one_line(output)
    assert status == 1
    assert 'refused user "tm_nobody"' in line and "fix the user or password" in line, line


def test_a_missing_driver(tmp_path: Path) -> None:
    status, output = start("mssql+pyodbc://user@127.0.0.1/taskmanager", tmp_path)
    line = one_line(output)
    assert status == 1
    assert "no database driver for mssql+pyodbc:// is installed" in line, line


def test_an_unreachable_server_is_waited_for_then_named(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    status, output = start(
        f"postgresql://postgres@127.0.0.1:{port}/taskmanager", tmp_path, TASKMAN_DB_WAIT_TIMEOUT="3"
    )
    line = one_line(output)
    assert status == 1
    assert f"no database server answered at 127.0.0.1:{port} within 3 s" in line, line
    assert "TASKMAN_DB_WAIT_TIMEOUT" in line


def start_and_stop(database_url: str, tmp_path: Path) -> str:
    """Start `taskmanager run` without the TASKMAN_ADMIN_* variables until it serves; its output."""
    env = {**os.environ, **make_env(database_url, tmp_path / "instance")}
    for name in ("TASKMAN_ADMIN_USERNAME", "TASKMAN_ADMIN_PASSWORD", "TASKMAN_ADMIN_EMAIL"):
        env.pop(name, None)
    return start_until_serving(env)[1]


def test_no_admin_account_is_a_warning_naming_the_fix(tmp_path: Path) -> None:
    with databases.scratch_database(tmp_path, prefix="tm_noadmin") as url:
        output = start_and_stop(url, tmp_path)
    warning = [line for line in output.splitlines() if "No active admin account" in line]
    assert len(warning) == 1, output
    assert "WARNING" in warning[0] and "`taskmanager onboarding`" in warning[0]
    assert "TASKMAN_ADMIN_USERNAME, TASKMAN_ADMIN_PASSWORD" in warning[0]


def test_a_case_insensitive_username_collation_is_a_warning(tmp_path: Path) -> None:
    """MariaDB's default collations compare 'Alice' and 'alice' as one name: said at start.
    PostgreSQL and SQLite compare names exactly, and no warning is given there."""
    if databases.backend_name() != "mysql":
        with databases.scratch_database(tmp_path, prefix="tm_collation") as url:
            output = start_and_stop(url, tmp_path)
        assert "collation" not in output, output
        return
    name = f"tm_collation_{uuid.uuid4().hex[:8]}"
    server = create_engine(databases.server_url() or "", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(
            text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        )
    server.dispose()
    url = other_database(name)
    try:
        output = start_and_stop(url, tmp_path)
    finally:
        databases.drop_database(url)
    warning = [line for line in output.splitlines() if "collation" in line]
    assert len(warning) == 1 and "WARNING" in warning[0], output
    assert "utf8mb4_general_ci" in warning[0] and "COLLATE utf8mb4_bin" in warning[0]
