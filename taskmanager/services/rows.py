"""Row writes that must stay correct when concurrent requests make the same row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
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
