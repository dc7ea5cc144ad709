"""Callback deliveries: what was sent where, what failed, and retrying failed ones (admins)."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from pydantic import BaseModel, Field

from ..models import CallbackDelivery, DeliveryStatus, db
from ..services.callbacks import outbox as callback_service
from ..services.kit import paging
from ..services.kit.references import MAX_ID
from . import bodies, v1
from .auth import permission_required
from .statuses import DeliveryStatusName

ADMIN_PERMISSION = "task_update_all"


class CallbackQuery(BaseModel):
    status: DeliveryStatusName | None = None
    task: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="Only deliveries for this task id"
    )
    taskgroup: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="Only deliveries for this group id"
    )
    offset: int = Field(default=0, ge=0, le=MAX_ID)
    limit: int = Field(
        default=50,
        ge=1,
        description=f"At most {paging.MAX_PAGE_SIZE}; larger values are reduced to it",
    )


class CallbackOut(BaseModel):
    id: int
    uri: str
    status: DeliveryStatusName
    url: str
    method: str
    body: str | None = Field(description="callback_content as written when the change happened")
    task_id: int | None
    taskgroup_id: int | None
    idempotency_key: str = Field(description="Sent as the Idempotency-Key header, every attempt")
    attempts: int
    max_attempts: int
    created_at: str
    next_attempt_at: str | None = Field(description="When a pending delivery is tried next")
    delivered_at: str | None
    last_status_code: int | None
    last_error: str | None


class CallbackList(BaseModel):
    callbacks: list[CallbackOut]
    total: int
    offset: int
    limit: int


def callback_detail(delivery: CallbackDelivery) -> dict[str, Any]:
    settings = current_app.extensions["taskman_settings"]
    return {
        "id": delivery.id,
        "uri": url_for("api_v1.get_callback", callback_id=delivery.id),
        "status": delivery.status,
        "url": delivery.url,
        "method": delivery.method,
        "body": delivery.body,
        "task_id": delivery.task_id,
        "taskgroup_id": delivery.taskgroup_id,
        "idempotency_key": delivery.idempotency_key,
        "attempts": delivery.attempts,
        "max_attempts": settings.callback_max_attempts,
        "created_at": delivery.created_at.isoformat(),
        "next_attempt_at": (
            delivery.next_attempt_at.isoformat()
            if delivery.status == DeliveryStatus.PENDING
            else None
        ),
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
    }


@v1.get("/callbacks")
@bodies.input(CallbackQuery, location="query")
@v1.output(CallbackList)
@v1.doc(
    summary="List callback deliveries, newest first",
    description="Filter by status, task or task group; `total` counts all matches.",
    tags=["Callbacks"],
)
@permission_required(ADMIN_PERMISSION)
def list_callbacks(query_data: CallbackQuery) -> dict[str, Any]:
    offset, limit = paging.clamp(query_data.offset, query_data.limit)
    deliveries, total = callback_service.list_deliveries(
        db.session,
        status=query_data.status,
        task_id=query_data.task,
        taskgroup_id=query_data.taskgroup,
        offset=offset,
        limit=limit,
    )
    return {
        "callbacks": [callback_detail(delivery) for delivery in deliveries],
        "total": total,
        "offset": offset,
        "limit": limit,
    }


@v1.get("/callbacks/<int:callback_id>")
@v1.output(CallbackOut)
@v1.doc(summary="One callback delivery", tags=["Callbacks"], responses=[200, 404])
@permission_required(ADMIN_PERMISSION)
def get_callback(callback_id: int) -> dict[str, Any]:
    return callback_detail(callback_service.get_or_raise(db.session, delivery_id=callback_id))


@v1.post("/callbacks/<int:callback_id>/retry")
@v1.output(CallbackOut)
@v1.doc(
    summary="Retry a failed callback delivery",
    description="Resets a failed delivery to pending with a fresh set of attempts, due now. "
    "409 when the delivery is not failed.",
    tags=["Callbacks"],
    responses=[200, 404, 409],
)
@permission_required(ADMIN_PERMISSION)
def retry_callback(callback_id: int) -> dict[str, Any]:
    delivery = callback_service.retry(db.session, delivery_id=callback_id)
    db.session.commit()
    return callback_detail(delivery)
