"""Upgrade an old TaskManager's database (PyPI `task-manager` 6.6) in place, to our schema.

The old server made its tables with `create_all` and kept no Alembic history, so it is known by
its table set: every table the legacy import reads, nothing else, and no `alembic_version`. The
old tables are renamed aside (`legacy_*`), our migrations create the new schema beside them, the
legacy import copies the rows over on the same connection (ids and password hashes kept), and the
old tables are dropped last.

PostgreSQL and SQLite change their schema transactionally: the caller runs all of it in one
transaction, so a failure rolls back every step. MariaDB commits each DDL statement by itself, so
there a failure drops what was created and renames the old tables back, untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.orm import Session

from ...models import Base
from ..accounts import onboarding
from ..kit.errors import DomainError
from . import legacy_import, steps

ASIDE = "legacy_"
OLD_TABLES = frozenset(step.source for step in steps.STEPS)
TARGETS = {step.source: step.target.name for step in steps.STEPS}

EMPTY = "empty"
CURRENT = "current"  # ours, with an Alembic revision we know
LEGACY = "legacy"


class LegacyUpgradeError(DomainError):
    """The database is not one this server can migrate; nothing was changed."""


@dataclass
class Schema:
    """What the database holds, and so what an upgrade would do."""

    kind: str
    revision: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # per old table (LEGACY)

    def describe(self) -> list[str]:
        """What an upgrade of this database does, line by line."""
        if self.kind == EMPTY:
            return ["empty database: create the schema"]
        if self.kind == CURRENT:
            return [f"schema at revision {self.revision}: apply the newer migrations, if any"]
        lines = [
            "old TaskManager (task-manager 6.6) tables: rename them aside, create the schema, "
            "copy the rows over, then drop the old tables"
        ]
        lines += [
            f"  {name} -> {TARGETS[name]}: {count} row(s)" for name, count in self.counts.items()
        ]
        return lines


def _refuse(reason: str) -> LegacyUpgradeError:
    return LegacyUpgradeError(
        f"the database is not one this server can upgrade: {reason}; nothing was changed "
        "(for an old TaskManager's database that was changed by hand, see "
        "`taskmanager import-legacy` in docs/upgrading.md)",
        field="database",
    )


def inspect_schema(connection: Connection, *, known_revisions: set[str]) -> Schema:
    """Empty, ours (at a revision we know), or an old TaskManager's; anything else is refused."""
    tables = set(inspect(connection).get_table_names())
    if not tables:
        return Schema(EMPTY)
    if "alembic_version" in tables:
        revisions: set[str] = set(
            connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        )
        unknown = sorted(revisions - known_revisions)
        if unknown:
            raise _refuse(f"its Alembic revision {', '.join(unknown)} is not one of this server's")
        return Schema(CURRENT, revision=", ".join(sorted(revisions)) or None)
    ours = set(Base.metadata.tables) - OLD_TABLES
    if tables & ours:
        raise _refuse(
            "it holds tables of this server ("
            + ", ".join(sorted(tables & ours))
            + ") but no alembic_version"
        )
    others = sorted(tables - OLD_TABLES)
    if others:
        hint = (
            " (an interrupted upgrade? see docs/upgrading.md)"
            if any(name.startswith(ASIDE) for name in others)
            else ""
        )
        raise _refuse("besides an old TaskManager's tables it holds " + ", ".join(others) + hint)
    source = legacy_import.Source(connection.engine, connection, stream=False)
    try:
        legacy_import.read_tables(source, {name: name for name in tables})
    except steps.LegacyImportError as error:
        raise _refuse("; ".join(error.errors.get("from", [error.message]))) from None
    return Schema(LEGACY, counts=dict(source.counts))


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _rename(connection: Connection, pairs: list[tuple[str, str]]) -> None:
    q = lambda name: _quote(connection, name)  # noqa: E731
    if connection.dialect.name in ("mysql", "mariadb"):
        # One statement: MariaDB renames them all or none.
        connection.execute(
            text("RENAME TABLE " + ", ".join(f"{q(old)} TO {q(new)}" for old, new in pairs))
        )
        return
    for old, new in pairs:
        has_id = "id" in {column["name"] for column in inspect(connection).get_columns(old)}
        connection.execute(text(f"ALTER TABLE {q(old)} RENAME TO {q(new)}"))
        if connection.dialect.name == "postgresql" and has_id:
            # Its id sequence keeps the old name, which our new table's sequence wants.
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": q(new)}
            ).scalar()
            if sequence is not None:
                connection.execute(
                    text(f"ALTER SEQUENCE {sequence} RENAME TO {q(new + '_id_seq')}")
                )


def _drop(connection: Connection, names: list[str]) -> None:
    metadata = MetaData()
    metadata.reflect(connection, only=names)
    metadata.drop_all(connection)


def upgrade_in_place(
    connection: Connection, schema: Schema, *, migrate: Callable[[Connection], None]
) -> legacy_import.Imported:
    """Turn the old tables into ours: `migrate` creates our schema on the connection.

    On PostgreSQL and SQLite the caller commits (or rolls back) the one transaction; on MariaDB
    each step commits, and a failure restores the old tables before it is raised."""
    assert schema.kind == LEGACY
    old = sorted(inspect(connection).get_table_names())
    aside = [(name, ASIDE + name) for name in old]
    transactional = connection.dialect.name in ("postgresql", "sqlite")
    _rename(connection, aside)
    try:
        migrate(connection)
        source = legacy_import.Source(connection.engine, connection, stream=False)
        legacy_import.read_tables(source, {name: ASIDE + name for name in old})
        session = Session(bind=connection)
        try:
            imported = legacy_import.copy_rows(session, source)
            onboarding.ensure_roles(session)
            session.flush()
        finally:
            session.close()
        if not transactional:
            connection.commit()
    except BaseException:
        if not transactional:
            _restore(connection, aside)
        raise
    _drop(connection, [new for _, new in aside])
    if not transactional:
        connection.commit()
    return imported


def _restore(connection: Connection, aside: list[tuple[str, str]]) -> None:
    """MariaDB: drop what the failed upgrade created, and give the old tables their names back."""
    connection.rollback()
    renamed = {new for _, new in aside}
    created = [name for name in inspect(connection).get_table_names() if name not in renamed]
    connection.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
    try:
        for name in created:
            connection.execute(text(f"DROP TABLE {_quote(connection, name)}"))
    finally:
        connection.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    _rename(connection, [(new, old) for old, new in aside])
    connection.commit()
