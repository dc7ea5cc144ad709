"""Transactions the database gave up on: which may run again, and what the rest become.

Under contention a deadlock, a serialisation failure or a lock-wait timeout is a normal outcome
(PostgreSQL 40P01, 40001, 55P03; MariaDB 1213, 1205): the database rolled the transaction (or
the statement) back, and the same work in a fresh transaction usually gets through. A connection
that died (the database restarted, an administrator killed it) is discarded by SQLAlchemy, and a
new one is taken for the next transaction. Running work again is the caller's decision: only
when none of it was committed (`commits` counts them) and, after a lost connection, only for
reads (a lost COMMIT may have been stored). What is left becomes a domain error, like every
refusal, so that the API and the web UI answer it as they answer those.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from .errors import Conflict, DomainError, InvalidInput, NotFound, Unavailable

# Attempts of one unit of work when the database keeps giving up on it under contention.
ATTEMPTS = 3
BACKOFF_SECONDS = 0.02  # times the attempt, jittered by ±50 %
RETRY_AFTER_SECONDS = 1

POSTGRESQL_CONTENTION: frozenset[str | int] = frozenset({"40P01", "40001", "55P03"})
MARIADB_CONTENTION: frozenset[str | int] = frozenset({1213, 1205})

_COMMITS = "taskman_commits"

log = logging.getLogger(__name__)


def _driver_codes(error: DBAPIError) -> set[str | int]:
    """The driver's error codes: the SQLSTATE, and MariaDB's error number."""
    original = error.orig
    codes: set[str | int] = set()
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlstate, str):
        codes.add(sqlstate)
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int):
        codes.add(args[0])
    return codes


def is_contention(error: BaseException) -> bool:
    """A deadlock, serialisation failure or lock-wait timeout: worth running again."""
    if not isinstance(error, DBAPIError) or error.connection_invalidated:
        return False
    return not _driver_codes(error).isdisjoint(POSTGRESQL_CONTENTION | MARIADB_CONTENTION)


def is_disconnect(error: BaseException) -> bool:
    """The connection died under the transaction (SQLAlchemy has discarded it)."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


def backoff(attempt: int) -> float:
    """Seconds to wait before attempt `attempt + 1`: short, growing, and jittered so that the
    transactions that deadlocked do not meet again in step."""
    return BACKOFF_SECONDS * attempt * random.uniform(0.5, 1.5)  # noqa: S311 - not a secret


def describe(error: BaseException) -> str:
    """What went wrong, for the log: the kind and the driver's code, never the statement or its
    values (they may hold personal data)."""
    if isinstance(error, DBAPIError):
        codes = ", ".join(sorted(str(code) for code in _driver_codes(error)))
        kind = type(error.orig).__name__
        detail = "connection lost" if error.connection_invalidated else kind
        return f"{detail} ({codes})" if codes else detail
    return type(error).__name__


def as_domain_error(error: BaseException) -> DomainError | None:
    """The answer to a database failure, or None for a bug (an answer of 500).

    Contention and an unavailable database are logged: they say something about the server.
    """
    if isinstance(error, ObjectDeletedError):
        return NotFound("What this request works on was deleted meanwhile")
    if isinstance(error, StaleDataError):
        return Conflict("It was changed or deleted meanwhile; read it again and retry")
    if isinstance(error, IntegrityError):
        # A concurrent write took the name, or removed the row referenced: nothing was stored.
        return Conflict("The change conflicts with data stored meanwhile; try again")
    if isinstance(error, DataError):
        return InvalidInput("A value does not fit the database")
    if is_contention(error):
        log.warning("Database contention: %s", describe(error))
        return Conflict("The database was too busy with the same rows to do this; try again")
    if is_disconnect(error) or isinstance(error, OperationalError):
        log.error("Database unavailable: %s", describe(error), exc_info=error)
        return unavailable()
    return None


def unavailable() -> Unavailable:
    return Unavailable("The database is unavailable; try again", retry_after=RETRY_AFTER_SECONDS)


def discard(session: Session) -> None:
    """Roll the session's transaction back; a dead connection is already discarded then.

    A deadlock on MariaDB rolls the whole transaction back, its savepoints too: rolling back to
    a savepoint then fails, and the next rollback ends the outer transaction.
    """
    for attempt in (1, 2):
        try:
            session.rollback()
            return
        except DBAPIError as error:
            if error.connection_invalidated:
                return
            if attempt == 2:
                raise


def commits(session: Session) -> int:
    """How many transactions this session has committed (see `count_commits`)."""
    count: int = session.info.get(_COMMITS, 0)
    return count


def count_commits(session_class: Any) -> None:
    """Count the commits of every session of this class (or scoped session's class)."""
    if not event.contains(session_class, "after_commit", _count_commit):
        event.listen(session_class, "after_commit", _count_commit)


def _count_commit(session: Session) -> None:
    session.info[_COMMITS] = session.info.get(_COMMITS, 0) + 1
