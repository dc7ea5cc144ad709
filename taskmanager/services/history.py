"""Task history: who did what to a task, and when."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from ..models import TaskHistory, User, utcnow
from . import bulk

# Actions recorded; the API documents this vocabulary.
ACTIONS = ("create", "assign", "lock", "unlock", "status", "edit", "delete")


def record(
    session: Session,
    *,
    task_id: int,
    actor: User | None,
    action: str,
    detail: dict[str, Any] | None = None,
) -> TaskHistory:
    """Add one history row in the caller's transaction."""
    entry = TaskHistory(
        task_id=task_id,
        actor_id=actor.id if actor is not None else None,
        action=action,
        detail=json.dumps(detail, default=str) if detail else None,
        timestamp=utcnow(),
    )
    session.add(entry)
    return entry


def record_many(
    session: Session,
    *,
    entries: Iterable[tuple[int, str, dict[str, Any] | None]],
    actor: User | None,
) -> None:
    """Add (task_id, action, detail) rows by the same actor in one bulk INSERT."""
    now = utcnow()
    actor_id = actor.id if actor is not None else None
    rows = [
        {
            "task_id": task_id,
            "actor_id": actor_id,
            "action": action,
            "detail": json.dumps(detail, default=str) if detail else None,
            "timestamp": now,
        }
        for task_id, action, detail in entries
    ]
    bulk.insert_rows(session, cast(Table, TaskHistory.__table__), rows)
