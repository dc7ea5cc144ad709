"""Bring an old TaskManager's database (PyPI `task-manager` 6.6) into this one, ids and all.

The source is only read. Everything is written in the caller's transaction, so an import either
lands whole or not at all. Rows keep their ids (stored task URIs stay valid) and users keep their
password hashes (verified by the configured schemes and re-hashed at the next login).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    delete,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from ...config import Settings, normalise_database_uri
from ...models import (
    Base,
    Role,
    User,
    roles_users,
    utcnow,
)
from ..accounts import onboarding
from ..accounts.permissions import DEFAULT_ROLES
from ..kit import bulk
from .steps import (
    IGNORED_TARGET_TABLES,
    MAX_LENGTHS,
    SEQUENCED,
    STEPS,
    LegacyImportError,
    Row,
    Step,
)

BATCH = 1000
# Tables that hold nothing an import would lose (migration bookkeeping, login throttling).


@dataclass
class Source:
    """The old database, opened read-only, with the columns each step can read."""

    engine: Engine
    connection: Connection
    tables: dict[str, Table] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    stream: bool = True  # False when the connection also writes (an upgrade in place)

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


def _read_only_engine(url: str) -> Engine:
    parsed = make_url(normalise_database_uri(url))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database
        if not path or path == ":memory:":
            raise LegacyImportError("the old database must be a file", field="from")

        uri = Path(path).resolve().as_uri() + "?mode=ro"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True)

        return create_engine("sqlite://", creator=connect)
    return create_engine(parsed)


def open_source(url: str) -> Source:
    """Connect to the old database and check it has every table and column the import reads."""
    engine = _read_only_engine(url)
    try:
        connection = engine.connect()
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"))
        elif engine.dialect.name in ("mysql", "mariadb"):
            connection.execute(text("SET SESSION TRANSACTION READ ONLY"))
        connection.commit()  # the next transaction, which reads everything, is read-only
        present = set(inspect(connection).get_table_names())
    except (DBAPIError, SQLAlchemyError) as error:
        engine.dispose()
        raise LegacyImportError(
            f"cannot read the old database: {getattr(error, 'orig', error)}", field="from"
        ) from None
    source = Source(engine, connection)
    try:
        read_tables(source, {name: name for name in present})
    except LegacyImportError:
        source.close()
        raise
    return source


def read_tables(source: Source, present: dict[str, str]) -> None:
    """Reflect and count the old tables (`present`: old name -> its name in the database now);
    refuse the database when one the import needs, or one of their columns, is missing."""
    problems = []
    metadata = MetaData()
    for step in STEPS:
        if step.source not in present:
            if not step.optional_table:
                problems.append(f"table {step.source!r} is missing")
            continue
        table = Table(
            present[step.source], metadata, autoload_with=source.connection, resolve_fks=False
        )
        missing = [name for name in step.columns if name not in table.c]
        problems += [f"column {step.source}.{name} is missing" for name in missing]
        source.tables[step.source] = table
    if problems:
        raise LegacyImportError(
            "this is not an old TaskManager database (task-manager 6.x): " + "; ".join(problems),
            errors={"from": problems},
        )
    for name, table in source.tables.items():
        source.counts[name] = source.connection.execute(
            select(func.count()).select_from(table)
        ).scalar_one()


def _source_rows(source: Source, step: Step) -> Generator[list[Row]]:
    table = source.tables[step.source]
    wanted = [table.c[name] for name in (*step.columns, *step.optional_columns) if name in table.c]
    order = [table.c[name] for name in step.columns] if step.link else [table.c.id]
    statement = select(*wanted).order_by(*order)
    if not source.stream:
        # The same connection also writes: read a batch at a time (by id), or a link table
        # (two numbers a row) whole, so no result is open while the writes run.
        if step.link:
            rows = [dict(row) for row in source.connection.execute(statement).mappings()]
            for start in range(0, len(rows), BATCH):
                yield rows[start : start + BATCH]
            return
        last = None
        while True:
            page = statement if last is None else statement.where(table.c.id > last)
            rows = [dict(row) for row in source.connection.execute(page.limit(BATCH)).mappings()]
            if not rows:
                return
            yield rows
            last = rows[-1]["id"]
    with source.connection.execute(statement, execution_options={"yield_per": BATCH}) as result:
        for partition in result.mappings().partitions():
            yield [dict(row) for row in partition]


def existing_data(session: Session, settings: Settings) -> list[str]:
    """What the target holds beyond what onboarding creates (the roles and the admin account)."""
    found = []
    for table in Base.metadata.sorted_tables:
        if table.name in IGNORED_TARGET_TABLES or table is roles_users:
            continue
        query = select(func.count()).select_from(table)
        if table is User.__table__:
            query = query.where(User.username != (settings.admin_username or ""))
        elif table is Role.__table__:
            query = query.where(Role.name.not_in(list(DEFAULT_ROLES)))
        count = session.execute(query).scalar_one()
        if count:
            found.append(f"{count} row(s) in {table.name}")
    return found


def _check_lengths(step: Step, rows: list[Row]) -> None:
    for row in rows:
        for column, value in row.items():
            limit = MAX_LENGTHS.get((step.target.name, column))
            if limit is not None and value is not None and len(value) > limit:
                raise LegacyImportError(
                    f"{step.source} {row.get('id')}: {column} is {len(value)} characters, "
                    f"longer than the {limit} this server stores; shorten it in the old database",
                    field=f"{step.source}.{column}",
                )


@dataclass
class Imported:
    """What an import wrote, and what it left out because it pointed at nothing."""

    rows: dict[str, int] = field(default_factory=dict)  # per target table
    # Per old table and column: links left out, or references cleared, whose row is missing.
    dangling: dict[tuple[str, str], int] = field(default_factory=dict)


def _references(step: Step) -> list[tuple[str, str, bool]]:
    """(column, table it references, may be NULL) for the step's references to other tables."""
    return [
        (column.name, key.column.table.name, bool(column.nullable))
        for column in step.target.c
        for key in column.foreign_keys
        if key.column.table is not step.target
    ]


def _drop_dangling(
    step: Step, rows: list[Row], written: dict[str, set[Any]], imported: Imported
) -> list[Row]:
    """The old server on SQLite did not enforce its foreign keys, so a link can name a deleted
    user or task. Such links are left out, and such a nullable reference (a lock held by a
    deleted user) is cleared; both are counted. A required one (a task's template) still fails."""
    for column, table, nullable in _references(step):
        known = written.get(table, set())
        if step.link:
            kept = [row for row in rows if row[column] in known]
            missing = len(rows) - len(kept)
            rows = kept
        elif nullable:
            missing = 0
            for row in rows:
                if row[column] is not None and row[column] not in known:
                    row[column] = None
                    missing += 1
        else:
            continue
        if missing:
            key = (step.source, column)
            imported.dangling[key] = imported.dangling.get(key, 0) + missing
    return rows


def _copy(
    session: Session,
    source: Source,
    step: Step,
    advance: Callable[[int], None],
    written: dict[str, set[Any]],
    imported: Imported,
) -> int:
    now = utcnow()
    seen: set[tuple[Any, ...]] = set()
    ids = written.setdefault(step.target.name, set())
    copied = 0
    # Closed on an error too, so the source's server-side cursor is not left open.
    with contextlib.closing(_source_rows(source, step)) as batches:
        for batch in batches:
            rows = [step.convert(row, now) for row in batch]
            if step.link:
                rows = _first_of_each(rows, seen)
            rows = _drop_dangling(step, rows, written, imported)
            _check_lengths(step, rows)
            _insert(session, step, rows)
            if not step.link:
                ids.update(row["id"] for row in rows)
            copied += len(rows)
            advance(len(batch))
    return copied


def _first_of_each(rows: list[Row], seen: set[tuple[Any, ...]]) -> list[Row]:
    unique = []
    for row in rows:
        key = tuple(row.values())
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def _insert(session: Session, step: Step, rows: list[Row]) -> None:
    driver_error = session.get_bind().dialect.loaded_dbapi.Error
    try:
        bulk.insert_rows(session, step.target, rows)
    except (DBAPIError, driver_error) as error:
        # COPY (PostgreSQL) raises the driver's own error, executemany SQLAlchemy's.
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise LegacyImportError(
            f"{step.source} could not be written to {step.target.name}: {reason}",
            field=step.source,
        ) from None


def reset_sequences(session: Session) -> None:
    """PostgreSQL: move each id sequence past the ids written (MariaDB and SQLite do it alone)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in SEQUENCED:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"coalesce(max(id), 0) + 1, false) FROM {table.name}"
            )
        )


def import_all(
    session: Session,
    source: Source,
    *,
    settings: Settings,
    advance: Callable[[int], None] = lambda n: None,
) -> Imported:
    """Copy every old row into the (onboarded, otherwise empty) target; the caller commits."""
    found = existing_data(session, settings)
    if found:
        raise LegacyImportError(
            "the target database already holds data ("
            + ", ".join(found)
            + "); import into a new database",
            errors={"database": found},
        )
    # Onboarding's roles and admin account make way for the old ones, then come back.
    session.expunge_all()
    session.execute(delete(roles_users))
    session.execute(delete(User))
    session.execute(delete(Role))
    imported = copy_rows(session, source, advance=advance)
    onboarding.ensure_roles(session)
    onboarding.ensure_admin(session, settings)
    return imported


def copy_rows(
    session: Session, source: Source, *, advance: Callable[[int], None] = lambda n: None
) -> Imported:
    """Copy every old row into our (empty) tables, ids kept; the caller commits."""
    imported = Imported()
    written: dict[str, set[Any]] = {}  # the ids copied so far, per target table
    for step in STEPS:
        if step.source in source.tables:
            imported.rows[step.target.name] = _copy(
                session, source, step, advance, written, imported
            )
    reset_sequences(session)
    return imported
