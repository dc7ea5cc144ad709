"""Task groups: tasks created together, whose status follows their tasks."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import Task, User


def on_task_status_changed(
    session: Session, *, task: Task, old_status: str, actor: User | None
) -> None:
    """Keep the task's group consistent after one of its tasks changed status.

    (Aborting cascades to the group's other tasks; the group's callback is written to the outbox
    exactly once when all its tasks are done.) Implemented by the dispensing work.
    """
    return None
