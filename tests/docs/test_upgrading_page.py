"""docs/upgrading.md's in-place path, run as written on a database the real 6.6.0 made.

The site: a folder holding the old server's seed-style `.env` (the driver URLs of the old docs,
spaces around `=`), its database restored from tests/data/legacy-6.6.0. The page's blocks run
in one shell from "go to its folder" to the task-client check, with only the names changed
that differ here: the folder, the database, the port, the account and its password. Of the
three backup blocks the one of the run's database runs. `pip install -U task-manager` is the one
command that does not: the package is on PATH already (installing the built wheel is
tests/deployment/test_package.py's), so the page's `taskmanager --version` checks what runs.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from taskmanager.database import current_revision
from taskmanager.services.legacy import legacy_upgrade

from ..support import databases, docpages, legacy_dumps, needs
from ..support.servers import free_port
from ..test_old_howto import CHEAP_HASHES
from ..test_upgrade_in_place import REAL_ENV, snapshot
from .test_walkthrough import DOCS, block_output, reader_environment, run_page

SECTION = ("### In place\n", "### Into a new database")
BACKUP_HEADINGS = {"postgresql": "# PostgreSQL", "mariadb": "# MariaDB", "sqlite": "# SQLite"}
OLD_DRIVERS = {"postgresql": "postgresql+psycopg2", "mariadb": "mysql+pymysql"}


def backend() -> str:
    name = databases.backend_name()
    return "mariadb" if name == "mysql" else name


@pytest.fixture
def old_database(tmp_path: Path) -> Iterator[str]:
    with legacy_dumps.restored_database(tmp_path, prefix="tm_upgrade_page") as url:
        yield url


def replace_once(text: str, old: str, new: str) -> str:
    # The page must still say exactly this, once: the test changes names, never commands.
    assert text.count(old) == 1, f"docs/upgrading.md no longer says {old!r} once"
    return text.replace(old, new)


def in_place_page(
    site: Path, database_url: str, port: int, user: dict[str, str]
) -> list[docpages.Block]:
    text = (DOCS / "upgrading.md").read_text()
    start, end = text.index(SECTION[0]), text.index(SECTION[1])
    text = text[start:end]
    name = make_url(database_url).database
    text = replace_once(text, "cd /home/taskman/taskmanager\n", f"cd {site}\n")
    text = replace_once(
        text,
        "--file=taskmanager-6.6.dump taskmanager\n",
        f"--file=taskmanager-6.6.dump {name}\n",
    )
    text = replace_once(
        text, "--single-transaction taskmanager > ", f"--single-transaction {name} > "
    )
    text = replace_once(text, "cp /home/taskman/taskmanager/taskmanager.db ", f"cp {name} ")
    text = replace_once(
        text,
        "pip install -U task-manager\n",
        "# pip install -U task-manager (the package is installed already)\n",
    )
    text = replace_once(text, "--port 5000 >>", f"--port {port} >>")
    text = replace_once(text, "alice:old-password", f"{user['username']}:{user['password']}")
    text = replace_once(
        text,
        'user="alice", password="old-password"',
        f'user="{user["username"]}", password="{user["password"]}"',
    )
    text = text.replace("http://localhost:5000", f"http://localhost:{port}")
    others = [heading for key, heading in BACKUP_HEADINGS.items() if key != backend()]
    return [
        block
        for block in docpages.blocks(text)
        if block.is_command and block.body.splitlines()[0] not in others
    ]


def old_env_file(database_url: str) -> str:
    """The `.env` of an old site, in the seed's style, with the old docs' driver names."""
    url = make_url(database_url)
    if backend() in OLD_DRIVERS:
        url = url.set(drivername=OLD_DRIVERS[backend()])
    uri = url.render_as_string(hide_password=False)
    return (
        'FLASK_APP = "taskmanager"\n'
        f'SQLALCHEMY_DATABASE_URI = "{uri}"\n'
        f'SECRET_KEY = "{REAL_ENV["SECRET_KEY"]}"\n'
        f'SECURITY_PASSWORD_SALT = "{REAL_ENV["SECURITY_PASSWORD_SALT"]}"\n'
    )


def client_tools_env(database_url: str, home: Path) -> dict[str, str]:
    """Where pg_dump and mariadb-dump find the server, as on the reader's machine."""
    url = make_url(database_url)
    if backend() == "postgresql":
        needs.program("pg_dump", "apt-get install postgresql-client")
        needs.program("pg_restore", "apt-get install postgresql-client")
        return {
            "PGHOST": str(url.host),
            "PGPORT": str(url.port or 5432),
            "PGUSER": str(url.username),
        }
    if backend() == "mariadb":
        needs.program("mariadb-dump", "apt-get install mariadb-client")
        (home / ".my.cnf").write_text(
            f"[client]\nhost={url.host}\nport={url.port or 3306}\nuser={url.username}\n"
        )
    return {}


def assert_backup_holds_the_old_database(site: Path) -> None:
    rows = legacy_dumps.manifest()["row_counts"]
    if backend() == "sqlite":
        connection = sqlite3.connect(site / "taskmanager-6.6.db")
        try:
            assert connection.execute("SELECT count(*) FROM task").fetchone() == (rows["task"],)
        finally:
            connection.close()
    elif backend() == "postgresql":
        listing = subprocess.run(
            ["pg_restore", "--list", str(site / "taskmanager-6.6.dump")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert all(f"TABLE public {old} " in listing for old in rows), listing[:2000]
    else:
        dump = (site / "taskmanager-6.6.sql").read_text()
        assert all(f"CREATE TABLE `{old}`" in dump for old in rows), dump[:2000]


def test_the_in_place_upgrade_runs_as_written(old_database: str, tmp_path: Path) -> None:
    site, home = tmp_path / "site", tmp_path / "home"
    site.mkdir()
    home.mkdir()
    manifest = legacy_dumps.manifest()
    alice = next(user for user in manifest["users"] if user["username"] == "alice")
    (site / ".env").write_text(old_env_file(old_database))
    page = in_place_page(site, old_database, free_port(), alice)
    # task-client gives the server 2 s to answer its first call. A cold worker checks the
    # password with argon2 at full cost: 0.16 s here when quiet, over 2 s once beside the other
    # suites of CI (a MariaDB run failed so). The hash cost is a setting; the page is not about it.
    env = {
        **reader_environment(home),
        **CHEAP_HASHES,
        **client_tools_env(old_database, home),
    }

    transcript = run_page("upgrading", page, tmp_path, env)

    assert "7.0.0" in block_output(page, transcript, "taskmanager --version")
    assert_backup_holds_the_old_database(site)
    # The dry run names every old table with its rows (its output comes before the upgrade's).
    upgraded = block_output(page, transcript, "db upgrade --dry-run")
    for old, count in manifest["row_counts"].items():
        assert re.search(rf"\b{re.escape(old)}\b\D*\b{count}\b", upgraded), (old, upgraded)
    after = snapshot(old_database)
    assert after["revision"] == current_revision(old_database)
    for old, count in manifest["row_counts"].items():
        assert after["tables"][legacy_upgrade.TARGETS[old]] == count, old
    assert not [name for name in after["tables"] if name.startswith("legacy_")]

    health = block_output(page, transcript, "/-/healthy")
    assert json.loads(health) == {"healthy": True}, health
    # Alice's old password works through the API and through task-client, which agree.
    listed = json.loads(block_output(page, transcript, "--user "))
    printed = block_output(page, transcript, "taskclient.connect").split()
    assert printed[1:] == ["tasks", "for", "alice"]
    assert listed["total_tasks"] == int(printed[0]) > 0
