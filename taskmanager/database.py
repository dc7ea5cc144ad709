"""Schema migrations (Alembic) run from Python, serialised across processes by the database.

Alembic (and Mako under it) is imported only to migrate: server workers never do, and the import
would cost each of them about 10 MB."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, OperationalError

if TYPE_CHECKING:
    from alembic.config import Config

    from .services.legacy.legacy_upgrade import Schema

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
LOCK_NAME = "taskmanager_migrations"
LOCK_KEY = 727_301_004  # arbitrary, fixed: PostgreSQL advisory locks take a number


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@contextlib.contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Two pods starting at once must not both migrate; SQLite has one writer anyway."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.rollback()  # a failed migration's transaction, or nothing
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            connection.commit()
    elif dialect in ("mysql", "mariadb"):
        connection.execute(text("SELECT GET_LOCK(:name, 600)"), {"name": LOCK_NAME})
        connection.commit()
        try:
            yield
        finally:
            connection.rollback()
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})
            connection.commit()
    else:
        yield


class DatabaseUnavailable(Exception):
    """The database cannot be used; the message says why in one line, and what fixes it."""


# Server messages after which waiting is pointless: the server answered and said no.
_POSTGRESQL_REFUSALS = (
    (re.compile(r'database "(?P<name>[^"]+)" does not exist'), "missing"),
    (
        re.compile(r"password authentication failed|role .* does not exist|no pg_hba\.conf entry"),
        "refused",
    ),
)
_MYSQL_MISSING, _MYSQL_REFUSED = {1049}, {1044, 1045, 1698}


def _where(url: URL) -> str:
    return f"{url.host or 'localhost'}:{url.port or {'postgresql': 5432}.get(url.get_backend_name(), 3306)}"


def connection_problem(error: DBAPIError, url: URL) -> str | None:
    """Why connecting failed, in one line with the fix, when waiting will not help; None while
    the server is only unreachable (not started yet, as in a container start-up)."""
    backend = url.get_backend_name()
    detail = str(error.orig).strip().splitlines()[-1] if error.orig is not None else str(error)
    detail = re.sub(r".*FATAL:\s+", "", detail)
    kind = None
    if backend == "postgresql":
        kind = next(
            (k for pattern, k in _POSTGRESQL_REFUSALS if pattern.search(str(error.orig))), None
        )
    elif backend in ("mysql", "mariadb"):
        code = error.orig.args[0] if error.orig is not None and error.orig.args else None
        kind = (
            "missing" if code in _MYSQL_MISSING else "refused" if code in _MYSQL_REFUSED else None
        )
    elif backend == "sqlite":
        folder = Path(url.database or "").parent
        return (
            f"cannot open the SQLite database {url.database} ({detail}): make sure the folder "
            f"{folder} exists and this user may write to it, or fix SQLALCHEMY_DATABASE_URI"
        )
    if kind == "missing":
        create = (
            f"createdb -h {url.host or 'localhost'} -U {url.username or 'postgres'} {url.database}"
            if backend == "postgresql"
            else f"mariadb -h {url.host or 'localhost'} -u {url.username or 'root'} -p -e "
            f"'CREATE DATABASE {url.database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'"
        )
        return (
            f'the database "{url.database}" does not exist on {_where(url)}: create it '
            f"({create}), or name another in SQLALCHEMY_DATABASE_URI (or DB_NAME)"
        )
    if kind == "refused":
        return (
            f'the database server at {_where(url)} refused user "{url.username}" ({detail}): fix '
            "the user or password in SQLALCHEMY_DATABASE_URI (or DB_USER, DB_PASSWORD), or grant "
            "that user access"
        )
    return None


def wait_for_database(engine: Engine, timeout: float = 60.0) -> None:
    """Containers start the server and its database together: wait while the server is
    unreachable; stop at once, with `DatabaseUnavailable`, when it answers no."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except OperationalError as error:
            problem = connection_problem(error, engine.url)
            if problem is not None:
                raise DatabaseUnavailable(problem) from error
            if time.monotonic() > deadline:
                detail = str(error.orig).strip().splitlines()[-1] if error.orig else str(error)
                raise DatabaseUnavailable(
                    f"no database server answered at {_where(engine.url)} within {timeout:g} s "
                    f"({detail.strip()}): start it, or fix the address in "
                    "SQLALCHEMY_DATABASE_URI (or DB_HOST, DB_PORT); TASKMAN_DB_WAIT_TIMEOUT sets "
                    "how long to wait"
                ) from error
            time.sleep(1.0)


def check_driver(database_uri: str) -> None:
    """The URL's database driver is installed, or `DatabaseUnavailable` says what to install."""
    url = make_url(database_uri)
    try:
        url.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError) as error:
        raise DatabaseUnavailable(
            f"no database driver for {url.drivername}:// is installed ({error}): use "
            "postgresql://, mysql+pymysql:// or sqlite:/// (their drivers come with TaskManager), "
            "or install that driver"
        ) from error


def configuration_warnings(connection: Connection) -> list[str]:
    """What in the database's own set-up works against TaskManager, as warnings to log."""
    if connection.dialect.name not in ("mysql", "mariadb"):
        return []
    collation = connection.execute(
        text(
            "SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
            " AND TABLE_NAME = 'users' AND COLUMN_NAME = 'username'"
        )
    ).scalar()
    if collation and not collation.endswith("_bin"):
        return [
            f"users.username has the collation {collation}, which compares names without regard "
            "to case (or accents): 'Alice' and 'alice' would be one account. Create the database "
            "with CHARACTER SET utf8mb4 COLLATE utf8mb4_bin (docs/getting-started.md)"
        ]
    return []


def _migration_engine(database_uri: str) -> Engine:
    """An engine whose transactions cover DDL too. pysqlite commits before a CREATE or ALTER on
    its own; SQLite itself can roll them back, so it is given the BEGIN itself."""
    engine = create_engine(database_uri)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }


def upgrade(database_uri: str, revision: str = "head", *, dry_run: bool = False) -> Schema:
    """Migrate to `revision`; an old TaskManager's tables are converted in place (to head).

    Returns what was found (`legacy_upgrade.Schema`); with `dry_run`, nothing is written."""
    from alembic import command

    from .services.legacy import legacy_upgrade

    engine = _migration_engine(database_uri)
    try:
        with engine.connect() as connection, migration_lock(connection):
            schema = legacy_upgrade.inspect_schema(connection, known_revisions=known_revisions())
            if dry_run:
                connection.rollback()
                return schema
            if schema.kind == legacy_upgrade.LEGACY:
                if revision != "head":
                    raise legacy_upgrade.LegacyUpgradeError(
                        "an old TaskManager's database is upgraded to the newest schema (head) "
                        f"only, not to {revision}",
                        field="revision",
                    )
                legacy_upgrade.upgrade_in_place(
                    connection,
                    schema,
                    migrate=lambda c: command.upgrade(alembic_config(c), "head"),
                )
            else:
                command.upgrade(alembic_config(connection), revision)
            connection.commit()
            return schema
    finally:
        engine.dispose()


def downgrade(database_uri: str, revision: str = "base") -> None:
    from alembic import command

    engine = _migration_engine(database_uri)
    try:
        with engine.connect() as connection, migration_lock(connection):
            command.downgrade(alembic_config(connection), revision)
            connection.commit()
    finally:
        engine.dispose()


def current_revision(database_uri: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(database_uri)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def drop_all(database_uri: str) -> list[str]:
    """Drop every table in the database, ours or not (an old server's too); their names."""
    from sqlalchemy import MetaData

    engine = create_engine(database_uri)
    try:
        with engine.connect() as connection, migration_lock(connection):
            tables = MetaData()
            tables.reflect(connection)
            tables.drop_all(connection)
            connection.commit()
            return sorted(tables.tables)
    finally:
        engine.dispose()
