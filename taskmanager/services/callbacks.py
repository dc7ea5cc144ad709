"""Callbacks as an outbox: a delivery row written in the transaction of the change causing it.

Delivery (workers, retries, signatures) is built on these rows; queues only ever carry row ids.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from ..models import CallbackDelivery, Task, TaskGroup, utcnow


def enqueue(
    session: Session,
    *,
    url: str,
    body: str | None,
    task_id: int | None = None,
    taskgroup_id: int | None = None,
) -> CallbackDelivery:
    delivery = CallbackDelivery(
        idempotency_key=uuid.uuid4().hex,
        task_id=task_id,
        taskgroup_id=taskgroup_id,
        url=url,
        method="PUT",
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(delivery)
    return delivery


def enqueue_for_task(
    session: Session, *, task: Task, rendered_url: str | None
) -> CallbackDelivery | None:
    """Called in the transaction that marks a task done; nothing when it has no callback URL."""
    if not rendered_url:
        return None
    return enqueue(session, url=rendered_url, body=task.callback_content, task_id=task.id)


def enqueue_for_taskgroup(
    session: Session, *, taskgroup: TaskGroup, rendered_url: str | None
) -> CallbackDelivery | None:
    """Called once, in the transaction that sets the group's callback_fired."""
    if not rendered_url:
        return None
    return enqueue(
        session, url=rendered_url, body=taskgroup.callback_content, taskgroup_id=taskgroup.id
    )
