"""Writing many rows at once: COPY on PostgreSQL, multi-row INSERTs elsewhere.

Creating 10,000 tasks writes some 40,000 rows; row-by-row statements (or giant parameterised
ones, which the PostgreSQL driver re-parses) would take seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

Rows = Sequence[dict[str, Any]]


# Below this many rows a COPY (its own protocol exchange) costs more than one executemany.
COPY_MIN_ROWS = 50


def insert_rows(session: Session, table: Table, rows: Rows) -> None:
    """INSERT the rows (all with the same keys) in the caller's transaction."""
    if not rows:
        return
    if _is_postgresql(session) and len(rows) >= COPY_MIN_ROWS:
        _copy(session, table, rows)
    else:
        # PyMySQL folds executemany into multi-row INSERTs; SQLite runs in-process.
        session.execute(insert(table), list(rows))


def insert_rows_returning_ids(session: Session, table: Table, rows: Rows) -> list[int]:
    """INSERT the rows and return their new ids, in the order of the rows."""
    if not rows:
        return []
    if not _is_postgresql(session):
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(session.scalars(statement, list(rows)))
    # Take the ids from the table's sequence first, then COPY the rows with them.
    sequence = func.pg_get_serial_sequence(table.name, "id")
    ids: list[int] = sorted(
        session.scalars(
            select(func.nextval(sequence)).select_from(func.generate_series(1, len(rows)))
        )
    )
    _copy(session, table, [{"id": id_, **row} for id_, row in zip(ids, rows, strict=True)])
    return ids


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _copy(session: Session, table: Table, rows: Rows) -> None:
    session.flush()
    dialect = session.get_bind().dialect
    names = list(rows[0])
    processors = [table.c[name].type.bind_processor(dialect) for name in names]
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    target = dialect.identifier_preparer.format_table(table)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    value if process is None else process(value)
                    for value, process in zip(
                        (row[name] for name in names), processors, strict=True
                    )
                ]
            )
