"""Row writes that must stay correct when concurrent requests make the same row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, insert, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session


def insert_missing(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT the rows, skipping any a unique key already holds (created by anyone, any time).

    Callers validate the values first: on MariaDB, INSERT IGNORE would also swallow bad data.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    elif dialect in {"mysql", "mariadb"}:
        statement = mysql.insert(table).prefix_with("IGNORE")
    else:  # pragma: no cover - the three supported backends are above
        statement = insert(table)
    session.execute(statement, list(rows))


def lock(session: Session, table: Table, *where: ColumnElement[bool]) -> int:
    """Hold a write lock on the matching rows until the transaction ends; their number.

    A no-op UPDATE rather than SELECT ... FOR UPDATE: it locks the rows on PostgreSQL and
    MariaDB, and on SQLite (which ignores FOR UPDATE) it takes the database write lock before
    the caller reads, so what the caller reads next cannot go stale before it writes.
    """
    unchanged = {column.name: column for column in table.primary_key.columns}
    result = session.execute(update(table).where(*where).values(unchanged))
    return int(result.rowcount)  # type: ignore[attr-defined]
