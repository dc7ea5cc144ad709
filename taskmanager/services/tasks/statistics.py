"""Counts for dashboards and metrics, each one SQL GROUP BY."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models import CallbackDelivery, DeliveryStatus, Task


def count_tasks_by_status(session: Session) -> dict[str, int]:
    """Number of tasks in each status."""
    rows = session.execute(select(Task.status, func.count()).group_by(Task.status))
    return {status: count for status, count in rows}


def count_callbacks_by_status(session: Session) -> dict[str, int]:
    """Number of callback deliveries in each state (pending, delivering, delivered, failed);
    every state is present, zero when none."""
    rows = session.execute(
        select(CallbackDelivery.status, func.count()).group_by(CallbackDelivery.status)
    )
    every = dict.fromkeys((status.value for status in DeliveryStatus), 0)
    return {**every, **{status: count for status, count in rows}}
