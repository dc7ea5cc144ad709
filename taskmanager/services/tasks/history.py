"""Task history: who did what to a task, and when."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Insert, Select, Table, insert, literal
from sqlalchemy.orm import Session

from ...models import TaskHistory, User, utcnow
from ..kit import bulk

# Actions recorded; the API documents this vocabulary.
ACTIONS = ("create", "assign", "lock", "unlock", "status", "edit", "delete")

_TABLE = cast(Table, TaskHistory.__table__)
_INSERT = insert(_TABLE)
# Set while one action changes many tasks: their rows share its time (see `one_timestamp`).
_SHARED_NOW: ContextVar[datetime | None] = ContextVar("history_shared_now", default=None)


@contextmanager
def one_timestamp() -> Iterator[datetime]:
    """Every row recorded inside carries the same timestamp: the rows of one bulk action read
    as one event (the activity feed groups rows by actor, action and time)."""
    token = _SHARED_NOW.set(utcnow())
    try:
        yield _now()
    finally:
        _SHARED_NOW.reset(token)


def _now() -> datetime:
    return _SHARED_NOW.get() or utcnow()


def record(
    session: Session,
    *,
    task_id: int,
    actor: User | None,
    action: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one history row in the caller's transaction.

    A plain INSERT, run at once: through the ORM's unit of work it cost a claim more CPU than
    finding and locking the task.
    """
    session.execute(_INSERT, _row(task_id, action, detail, actor, _now()))


def _row(
    task_id: int, action: str, detail: dict[str, Any] | None, actor: User | None, now: datetime
) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "actor_id": actor.id if actor is not None else None,
        "action": action,
        "detail": detail_text(detail),
        "timestamp": now,
    }


def detail_text(detail: dict[str, Any] | None) -> str | None:
    """How a row's detail is stored: JSON text."""
    return json.dumps(detail, default=str) if detail else None


def insert_from(rows: Select[Any], *, action: str) -> Insert:
    """INSERT one history row per row of `rows` (task id, actor id, detail text, timestamp).

    For folding the record into the statement that makes the change.
    """
    return insert(_TABLE).from_select(
        ["task_id", "actor_id", "detail", "timestamp", "action"],
        rows.add_columns(literal(action)),
    )


def record_many(
    session: Session,
    *,
    entries: Iterable[tuple[int, str, dict[str, Any] | None]],
    actor: User | None,
) -> None:
    """Add (task_id, action, detail) rows by the same actor in one bulk INSERT."""
    now = _now()
    rows = [_row(task_id, action, detail, actor, now) for task_id, action, detail in entries]
    bulk.insert_rows(session, _TABLE, rows)
