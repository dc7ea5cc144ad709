"""Rolling back a request's transaction when the database already ended it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from taskmanager.models import Tag
from taskmanager.services.kit import transactions


def test_discard_ends_a_transaction_whose_savepoint_the_database_dropped(session: Any) -> None:
    """As after a deadlock inside a savepoint on MariaDB: the server rolled everything back."""
    before = session.scalar(select(func.count()).select_from(Tag))
    session.add(Tag(name="outer"))
    session.flush()
    session.begin_nested()
    session.add(Tag(name="inner"))
    session.flush()
    session.execute(text("ROLLBACK"))  # the server ends the transaction, savepoints and all
    transactions.discard(session)
    assert session.scalar(select(func.count()).select_from(Tag)) == before
    session.add(Tag(name="after"))
    session.flush()  # the session works again
