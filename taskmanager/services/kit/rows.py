"""Row writes that must stay correct when concurrent requests make the same row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, insert, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session

from .typed_rows import as_tuples


def insert_missing(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT the rows, skipping any a unique key already holds (created by anyone, any time).

    Callers validate the values first: on MariaDB, INSERT IGNORE would also swallow bad data.
    """
    if not rows:
        return
    session.execute(insert_skipping_taken(session, table), list(rows))


def insert_missing_returning(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, key: str
) -> dict[Any, int]:
    """INSERT the rows whose unique column `key` no row holds yet; the new ids, by key.

    A row whose key another transaction is inserting waits for that one, and is skipped when it
    commits. Callers validate the values first (see insert_missing).
    """
    if not rows:
        return {}
    statement = insert_skipping_taken(session, table).returning(table.c[key], table.c.id)
    return {row_key: row_id for row_key, row_id in as_tuples(session.execute(statement, rows))}


def insert_skipping_taken(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect in {"mysql", "mariadb"}:
        return mysql.insert(table).prefix_with("IGNORE")
    return insert(table)  # pragma: no cover - the three supported backends are above


def lock(session: Session, table: Table, *where: ColumnElement[bool]) -> int:
    """Hold a write lock on the matching rows until the transaction ends; their number.

    A no-op UPDATE rather than SELECT ... FOR UPDATE: it locks the rows on PostgreSQL and
    MariaDB, and on SQLite (which ignores FOR UPDATE) it takes the database write lock before
    the caller reads, so what the caller reads next cannot go stale before it writes.
    """
    unchanged = {column.name: column for column in table.primary_key.columns}
    result = session.execute(update(table).where(*where).values(unchanged))
    return int(result.rowcount)  # type: ignore[attr-defined]
