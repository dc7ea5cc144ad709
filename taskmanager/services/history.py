"""Task history: who did what to a task, and when."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from ..models import TaskHistory, User, utcnow

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
