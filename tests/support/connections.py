"""Database connections dying and deadlocking on purpose: the failures a server must survive.

`kill` ends a connection as an administrator (or a database restart) would: pg_terminate_backend
on PostgreSQL, KILL on MariaDB; SQLite has no server, so its connection is closed under the pool.
`DeadlockOnce` makes a request's transaction the victim of a real deadlock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import NullPool


def admin_engine(database_url: str) -> Engine:
    return create_engine(database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def kill(dbapi_connection: Any, database_url: str) -> None:
    """End this DBAPI connection from outside, as `pg_terminate_backend` or `KILL` does."""
    backend = admin_engine(database_url)
    try:
        if backend.dialect.name == "sqlite":
            dbapi_connection.close()
        elif backend.dialect.name == "postgresql":
            with backend.connect() as admin:
                pid = dbapi_connection.info.backend_pid
                admin.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        else:
            with backend.connect() as admin:
                admin.execute(text(f"KILL {int(dbapi_connection.thread_id())}"))
    finally:
        backend.dispose()


def server_connections(database_url: str) -> list[int]:
    """Ids of every other connection to the database (a server's, say)."""
    backend = admin_engine(database_url)
    try:
        with backend.connect() as admin:
            if backend.dialect.name == "postgresql":
                query = (
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            else:
                query = (
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                )
            return [int(row[0]) for row in admin.execute(text(query))]
    finally:
        backend.dispose()


def kill_ids(database_url: str, ids: list[int]) -> None:
    backend = admin_engine(database_url)
    try:
        with backend.connect() as admin:
            for connection_id in ids:
                if backend.dialect.name == "postgresql":
                    admin.execute(
                        text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": connection_id}
                    )
                else:
                    admin.execute(text(f"KILL {connection_id}"))
    finally:
        backend.dispose()


def killer(database_url: str, times: int = 1) -> Callable[[Any, Any], None]:
    """An `on_statement` action that kills the connection about to run it, `times` times."""
    left = [times]

    def kill_it(conn: Any, _cursor: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            kill(conn.connection.dbapi_connection, database_url)

    return kill_it


@contextmanager
def on_statement(
    engine: Engine, starts: str, action: Callable[[Any, Any], None]
) -> Iterator[list[str]]:
    """Run `action(connection, cursor)` before each statement of `engine` starting with
    `starts` (case-insensitive); yields the statements it ran before, to count attempts."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(starts.upper()):
            seen.append(statement)
            action(conn, cursor)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


class DeadlockOnce:
    """Makes the transaction that calls it (holding row `held`) the victim of a real deadlock,
    `times` times: a rival connection locks the rows `other` (several, so that MariaDB, which
    rolls back the lighter transaction, picks the caller), then waits for `held`; the caller
    then asks for `other[0]`. PostgreSQL's victim is the first to look for a deadlock: the
    caller, whose deadlock_timeout is made shorter than the rival's."""

    def __init__(self, database_url: str, *, held: int, other: list[int], times: int = 1) -> None:
        self.database_url = database_url
        self.held = held
        self.other = other
        self.times = times
        self.threads: list[threading.Thread] = []

    def __call__(self, _conn: Any, cursor: Any) -> None:
        if self.times <= 0:
            return
        self.times -= 1
        # A value not there yet: MariaDB weighs a transaction by the rows it really changed.
        mark = f"rival-{self.times}"
        backend = admin_engine(self.database_url)
        rival_engine = create_engine(self.database_url, poolclass=NullPool)
        postgresql = backend.dialect.name == "postgresql"
        rival_id: list[int] = []
        locked = threading.Event()

        def rival() -> None:
            with rival_engine.connect() as connection, connection.begin():
                for row in self.other:  # by primary key: a scan would lock `held` too
                    connection.execute(_update_rows([row], mark))
                me = "SELECT pg_backend_pid()" if postgresql else "SELECT CONNECTION_ID()"
                rival_id.append(int(connection.execute(text(me)).scalar_one()))
                locked.set()
                connection.execute(_update_rows([self.held], mark))  # waits for the caller

        thread = threading.Thread(target=rival)
        thread.start()
        self.threads.append(thread)
        assert locked.wait(timeout=30)
        _wait_until_waiting(backend, rival_id[0])
        backend.dispose()
        if postgresql:
            cursor.execute("SET LOCAL deadlock_timeout = '100ms'")
        cursor.execute("SELECT id FROM tasks WHERE id = %s FOR UPDATE", (self.other[0],))

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)


def _wait_until_waiting(backend: Engine, connection_id: int) -> None:
    """Until the rival (this connection) waits for a row lock."""
    if backend.dialect.name == "postgresql":
        query = text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :id")
        params = {"id": connection_id}
    else:
        # By its statement: innodb_trx does not always name the connection CONNECTION_ID() does.
        query = text(
            "SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT' "
            "AND trx_query LIKE 'UPDATE tasks SET tracking_id = %rival-%'"
        )
        params = {}
    deadline = time.monotonic() + 30
    with backend.connect() as admin:
        while not admin.execute(query, params).scalar():
            assert time.monotonic() < deadline, "the rival never waited"
            time.sleep(0.01)


def _update_rows(ids: list[int], mark: str) -> Any:
    listed = ", ".join(str(int(i)) for i in ids)
    return text(f"UPDATE tasks SET tracking_id = :mark WHERE id IN ({listed})").bindparams(
        mark=mark
    )
