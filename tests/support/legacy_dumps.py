"""Real task-manager 6.6.0 databases, restored from the dumps in tests/data/legacy-6.6.0.

The dumps were made by scripts/make-legacy-fixtures: the old package's own commands built the
schema (`taskmanager-db-init`, i.e. `create_all`: there is no `alembic_version` table) and its
server filled it over its REST API. Each backend has its own dump and manifest; a dump is
restored only onto its own backend, the one the test run uses (TASKMAN_TEST_DATABASE_URL, as in
`databases`).

API:
- `BACKENDS`: the backends with a dump: "sqlite", "postgresql", "mariadb".
- `manifest(backend=None) -> dict`: what the dump holds ("row_counts" per table,
  "status_counts", "locks" {task id: username}, "users" with plain "password" and the old
  "password_hash", "groups" with members, "roles", "templates", "tags", "taskgroups",
  "meta" with value and history, "sample_tasks" with status, lock, tags, template, taskgroup,
  users, groups, content and raw_content, "config" with the old SECRET_KEY and
  SECURITY_PASSWORD_SALT: the hashes are bcrypt over base64(HMAC-SHA512(salt, password)), so
  they verify only with that salt). `backend` defaults to the run's backend.
- `restore(base_dir, prefix="tm_legacy") -> str`: a new uniquely named database on the run's
  backend holding the old database; its URL (in the form `databases` returns). Drop it with
  `databases.drop_database(url)`.
- `restored_database(base_dir, prefix="tm_legacy")`: the same as a context manager that drops
  the database after the block.
- `old_table_names() -> list[str]`: the old schema's tables, from the run's manifest.

Restoring uses the database drivers only (no psql, mysql or sqlite3 programs needed).
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from . import databases

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "legacy-6.6.0"
BACKENDS = ("sqlite", "postgresql", "mariadb")


def _backend(backend: str | None) -> str:
    name = backend or databases.backend_name()
    return "mariadb" if name == "mysql" else name


@cache
def _manifest(backend: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA_DIR / f"{backend}.manifest.json").read_text())
    return data


def manifest(backend: str | None = None) -> dict[str, Any]:
    """What the backend's dump holds (see the module docstring)."""
    return _manifest(_backend(backend))


def old_table_names() -> list[str]:
    return sorted(manifest()["row_counts"])


def dump_sql(backend: str | None = None) -> str:
    with gzip.open(DATA_DIR / f"{_backend(backend)}.sql.gz", "rt", encoding="utf-8") as fh:
        return fh.read()


def restore(base_dir: Path, prefix: str = "tm_legacy") -> str:
    """A new database on the run's backend holding the old database; its URL."""
    backend = _backend(None)
    url = databases.create_database(base_dir, prefix)
    try:
        {"sqlite": _restore_sqlite, "postgresql": _restore_postgresql, "mariadb": _restore_mariadb}[
            backend
        ](url, dump_sql(backend))
    except BaseException:
        databases.drop_database(url)
        raise
    return url


@contextmanager
def restored_database(base_dir: Path, prefix: str = "tm_legacy") -> Iterator[str]:
    """`restore` for the block; the database is dropped after it."""
    url = restore(base_dir, prefix)
    try:
        yield url
    finally:
        databases.drop_database(url)


def _restore_sqlite(url: str, sql: str) -> None:
    connection = sqlite3.connect(str(make_url(url).database))
    try:
        connection.executescript(sql)
    finally:
        connection.close()


def _restore_postgresql(url: str, sql: str) -> None:
    import psycopg

    parts = make_url(url)
    with psycopg.connect(
        host=parts.host,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=parts.database,
        autocommit=True,
    ) as connection:
        # pg_dump's plain format: SQL statements, and COPY blocks whose rows end at a `\.` line.
        statements: list[str] = []
        lines = iter(sql.splitlines(keepends=True))
        for line in lines:
            if line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
                connection.execute("".join(statements))
                statements = []
                rows = []
                for row in lines:
                    if row == "\\.\n":
                        break
                    rows.append(row)
                with connection.cursor() as cursor, cursor.copy(line.rstrip()[:-1]) as copy:
                    copy.write("".join(rows))
            elif not line.startswith("\\"):
                statements.append(line)
        if "".join(statements).strip():
            connection.execute("".join(statements))


def _restore_mariadb(url: str, sql: str) -> None:
    import pymysql
    from pymysql.constants import CLIENT

    parts = make_url(url)
    connection = pymysql.connect(
        host=parts.host,
        port=parts.port or 3306,
        user=parts.username,
        password=parts.password or "",
        database=parts.database,
        charset="utf8mb4",
        client_flag=CLIENT.MULTI_STATEMENTS,
        autocommit=True,
    )
    try:
        with connection.cursor() as cursor:
            # The whole dump in one multi-statement call, without the client-only sandbox line.
            body = "".join(
                line for line in sql.splitlines(keepends=True) if not line.startswith("/*M!999999")
            )
            cursor.execute(body)
            while cursor.nextset():
                pass
    finally:
        connection.close()
