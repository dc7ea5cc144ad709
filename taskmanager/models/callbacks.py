"""The callback outbox: a delivery row is written with the change that causes it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, PreciseUTCDateTime, UTCDateTime, utcnow
from .statuses import DeliveryStatus


class CallbackDelivery(Base):
    __tablename__ = "callback_deliveries"
    __table_args__ = (Index("ix_callback_deliveries_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable across retries so receivers can deduplicate (Idempotency-Key header).
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL"), index=True
    )
    taskgroup_id: Mapped[int | None] = mapped_column(
        ForeignKey("taskgroups.id", ondelete="SET NULL"), index=True
    )
    # Rendered with meta values, so it may be longer than the task's raw_callback_url.
    url: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(8), default="PUT")
    body: Mapped[str | None] = mapped_column(Text)
    # pending -> delivering -> delivered | pending (retry) | failed (see statuses.py)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(PreciseUTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(PreciseUTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
