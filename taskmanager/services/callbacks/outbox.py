"""Callbacks as an outbox: a delivery row written in the transaction of the change causing it.

A row moves pending -> delivering (claimed, under a lease) -> delivered, or back to pending with
a later `next_attempt_at` after a failed attempt, or to failed after the last attempt. Claims are
conditional UPDATEs (after SELECT ... FOR UPDATE SKIP LOCKED where the database has it), so two
processes never send the same row because both picked it. Queues (Celery, RQ) only carry ids.
The transaction-owning functions here (`claim_due`, `claim`, `load_detached`, `record`,
`reap_expired`, `mark_published`) commit themselves: a claim must be visible to other processes
before the HTTP request (made by `workers.delivery`) starts.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, event, or_, select, update
from sqlalchemy.orm import Session

from ...config import Settings
from ...models import CallbackDelivery, DeliveryStatus, Task, TaskGroup, utcnow
from ..kit import paging, references
from ..kit.errors import Conflict, InvalidInput, NotFound
from .policy import REPUBLISH_AFTER, Outcome, after_attempt, claimable, lease

log = logging.getLogger(__name__)

_ENQUEUED_FLAG = "taskman_callbacks_enqueued"
_commit_listeners: list[Callable[[], None]] = []
_listeners_lock = threading.Lock()


def enqueue(
    session: Session,
    *,
    url: str,
    body: str | None,
    task_id: int | None = None,
    taskgroup_id: int | None = None,
) -> CallbackDelivery:
    """Add a pending delivery in the caller's transaction; workers are woken after its commit."""
    delivery = CallbackDelivery(
        idempotency_key=uuid.uuid4().hex,
        task_id=task_id,
        taskgroup_id=taskgroup_id,
        url=url,
        method="PUT",
        body=body,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(delivery)
    session.info[_ENQUEUED_FLAG] = True
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


# --- waking workers after commits -------------------------------------------------------------


def add_commit_listener(listener: Callable[[], None]) -> None:
    """Call `listener` (in the committing thread) after each commit that enqueued a delivery."""
    with _listeners_lock:
        if not event.contains(Session, "after_commit", _after_commit):
            event.listen(Session, "after_commit", _after_commit)
            event.listen(Session, "after_rollback", _after_rollback)
        _commit_listeners.append(listener)


def remove_commit_listener(listener: Callable[[], None]) -> None:
    with _listeners_lock:
        if listener in _commit_listeners:
            _commit_listeners.remove(listener)


def _after_commit(session: Session) -> None:
    if not session.info.pop(_ENQUEUED_FLAG, False):
        return
    for listener in list(_commit_listeners):
        try:
            listener()
        except Exception:  # a wake-up must never fail the request that committed
            log.exception("callback commit listener failed")


def _after_rollback(session: Session) -> None:
    session.info.pop(_ENQUEUED_FLAG, None)


# --- reading ----------------------------------------------------------------------------------


def get(session: Session, *, delivery_id: int) -> CallbackDelivery | None:
    return session.get(CallbackDelivery, delivery_id)


def get_or_raise(session: Session, *, delivery_id: int | str) -> CallbackDelivery:
    # An id no id column can hold names nothing (and must not reach the database).
    number = references.as_id(delivery_id)
    delivery = None if number is None else get(session, delivery_id=number)
    if delivery is None:
        raise NotFound(f"Callback delivery {delivery_id!r} does not exist", field="callback")
    return delivery


def list_deliveries(
    session: Session,
    *,
    status: str | None = None,
    task_id: int | None = None,
    taskgroup_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[CallbackDelivery], int]:
    """One page of deliveries, newest first, and how many match in all."""
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        if status not in set(DeliveryStatus):
            raise InvalidInput(f"status must be one of {', '.join(DeliveryStatus)}", field="status")
        conditions.append(CallbackDelivery.status == status)
    if task_id is not None:
        conditions.append(CallbackDelivery.task_id == task_id)
    if taskgroup_id is not None:
        conditions.append(CallbackDelivery.taskgroup_id == taskgroup_id)
    query = select(CallbackDelivery).where(*conditions).order_by(CallbackDelivery.id.desc())
    page = paging.page(session, query, offset=offset, limit=limit)
    return page.items, page.total


# --- retrying by hand ---------------------------------------------------------------------------


def retry(session: Session, *, delivery_id: int | str) -> CallbackDelivery:
    """Give a failed delivery a fresh set of attempts, due now (the caller commits)."""
    delivery = get_or_raise(session, delivery_id=delivery_id)
    result = session.execute(
        update(CallbackDelivery)
        .where(CallbackDelivery.id == delivery.id, CallbackDelivery.status == DeliveryStatus.FAILED)
        .values(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=utcnow(), claimed_until=None
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(delivery)
        raise Conflict(
            f"Only failed deliveries can be retried; this one is {delivery.status}",
            field="status",
        )
    session.refresh(delivery)
    session.info[_ENQUEUED_FLAG] = True
    return delivery


# --- claiming -----------------------------------------------------------------------------------


def _candidates(session: Session, condition: ColumnElement[bool], limit: int) -> list[int]:
    """Ids of rows meeting `condition`, oldest due first; on PostgreSQL and MariaDB locked for
    this transaction, skipping rows another process has locked. SQLite has a single writer: the
    read ends first, so the transaction that writes starts by writing and waits for the lock
    instead of failing on a stale snapshot. Callers re-check `condition` when they update."""
    query = (
        select(CallbackDelivery.id)
        .where(condition)
        .order_by(CallbackDelivery.next_attempt_at, CallbackDelivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name in ("postgresql", "mysql", "mariadb"):
        return list(session.scalars(query.with_for_update(skip_locked=True)))
    ids = list(session.scalars(query))
    session.commit()
    return ids


def _claim_ids(
    session: Session, ids: Sequence[int], now: datetime, settings: Settings
) -> list[int]:
    claimed = []
    for delivery_id in ids:
        result = session.execute(
            update(CallbackDelivery)
            .where(CallbackDelivery.id == delivery_id, claimable(now, settings))
            .values(
                status=DeliveryStatus.DELIVERING,
                claimed_until=now + lease(settings),
                attempts=CallbackDelivery.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(delivery_id)
    return claimed


def claim_due(session: Session, *, settings: Settings, limit: int) -> list[int]:
    """Claim up to `limit` due deliveries for this process; their ids (commits)."""
    now = utcnow()
    ids = _candidates(session, claimable(now, settings), limit)
    claimed = _claim_ids(session, ids, now, settings) if ids else []
    session.commit()
    return claimed


def claim(session: Session, *, delivery_id: int, settings: Settings) -> bool:
    """Claim one delivery by id (a queue message); False when it is not due or someone has it."""
    claimed = _claim_ids(session, [delivery_id], utcnow(), settings)
    session.commit()
    return bool(claimed)


def next_retry_at(session: Session) -> datetime | None:
    """When the first pending delivery that is not due yet falls due; None when none waits."""
    return session.scalars(
        select(CallbackDelivery.next_attempt_at)
        .where(CallbackDelivery.status == "pending", CallbackDelivery.next_attempt_at > utcnow())
        .order_by(CallbackDelivery.next_attempt_at)
        .limit(1)
    ).first()


def reap_expired(session: Session, *, settings: Settings, limit: int = 500) -> int:
    """Deliveries whose worker vanished mid-attempt: retry now, or fail after the last attempt."""
    now = utcnow()
    expired = and_(
        CallbackDelivery.status == DeliveryStatus.DELIVERING, CallbackDelivery.claimed_until < now
    )
    ids = _candidates(session, expired, limit)
    if not ids:
        session.commit()
        return 0
    lost = "the worker delivering it stopped before recording the outcome"
    last = CallbackDelivery.attempts >= settings.callback_max_attempts
    reaped = 0
    for condition, values in (
        (last, {"status": DeliveryStatus.FAILED}),
        (~last, {"status": DeliveryStatus.PENDING, "next_attempt_at": now}),
    ):
        result = session.execute(
            update(CallbackDelivery)
            .where(CallbackDelivery.id.in_(ids), expired, condition)
            .values(claimed_until=None, last_error=lost, **values)
            .execution_options(synchronize_session=False)
        )
        reaped += result.rowcount  # type: ignore[attr-defined]
    # Read after writing: on SQLite a transaction that reads first may not write later.
    given_up = session.scalars(
        select(CallbackDelivery).where(
            CallbackDelivery.id.in_(ids),
            CallbackDelivery.status == DeliveryStatus.FAILED,
            CallbackDelivery.claimed_until.is_(None),
            CallbackDelivery.last_error == lost,
        )
    ).all()
    for delivery in given_up:
        _log_given_up(delivery, error=lost)
    session.commit()
    return reaped


def purge_delivered(session: Session, *, older_than: timedelta, batch: int = 1000) -> int:
    """Delete deliveries delivered before `older_than` ago, in batches; how many (commits).

    Failed ones stay: they wait for someone to look at them. Processes purging at once take
    different rows (locked, skipping those another holds), so none waits for another.
    """
    cutoff = utcnow() - older_than
    old = and_(
        CallbackDelivery.status == DeliveryStatus.DELIVERED, CallbackDelivery.delivered_at < cutoff
    )
    purged = 0
    while True:
        # Ids first: MariaDB refuses LIMIT in a DELETE's IN (subquery).
        ids = _candidates(session, old, batch)
        if ids:
            result = session.execute(
                delete(CallbackDelivery)
                .where(CallbackDelivery.id.in_(ids), old)
                .execution_options(synchronize_session=False)
            )
            purged += result.rowcount  # type: ignore[attr-defined]
        session.commit()
        if len(ids) < batch:
            return purged


def mark_published(
    session: Session, *, limit: int, republish_after: timedelta = REPUBLISH_AFTER
) -> list[int]:
    """Due pending deliveries not published recently, marked as published now; ids (commits).

    For the queue backends: `claimed_until` on a pending row means "a message for it is queued
    until then", so a periodic sweep does not flood the queue with copies.
    """
    now = utcnow()
    publishable = and_(
        CallbackDelivery.status == DeliveryStatus.PENDING,
        CallbackDelivery.next_attempt_at <= now,
        or_(CallbackDelivery.claimed_until.is_(None), CallbackDelivery.claimed_until < now),
    )
    marked = []
    for delivery_id in _candidates(session, publishable, limit):
        result = session.execute(
            update(CallbackDelivery)
            .where(CallbackDelivery.id == delivery_id, publishable)
            .values(claimed_until=now + republish_after)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            marked.append(delivery_id)
    session.commit()
    return marked


def unmark_published(session: Session, *, delivery_ids: Sequence[int]) -> None:
    """Publishing failed: let the next sweep publish these again at once (commits)."""
    if delivery_ids:
        session.execute(
            update(CallbackDelivery)
            .where(
                CallbackDelivery.id.in_(delivery_ids),
                CallbackDelivery.status == DeliveryStatus.PENDING,
            )
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )
    session.commit()


# --- one attempt ------------------------------------------------------------------------------


def load_detached(session: Session, *, delivery_id: int) -> CallbackDelivery | None:
    """The delivery as stored now, detached from `session` with its values loaded, and no
    transaction left open (commits): nothing is held while its request is made."""
    delivery = session.get(CallbackDelivery, delivery_id, populate_existing=True)
    if delivery is not None:
        session.expunge(delivery)
    session.commit()
    return delivery


def record(
    session: Session, *, delivery: CallbackDelivery, outcome: Outcome, settings: Settings
) -> str:
    """Store the outcome of the attempt this process claimed; the row's new status, or
    "lapsed" when the claim was taken over meanwhile and nothing was stored (commits)."""
    values = after_attempt(outcome, attempts=delivery.attempts, settings=settings, now=utcnow())
    # Fenced by the attempt number: a worker whose lease lapsed and was taken over records nothing.
    result = session.execute(
        update(CallbackDelivery)
        .where(
            CallbackDelivery.id == delivery.id,
            CallbackDelivery.status == DeliveryStatus.DELIVERING,
            CallbackDelivery.attempts == delivery.attempts,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        log.warning("callback %s: claim lapsed before the outcome was recorded", delivery.id)
        return "lapsed"
    if values["status"] == DeliveryStatus.FAILED:
        _log_given_up(delivery, error=outcome.error)
    return str(values["status"])


def _log_given_up(delivery: CallbackDelivery, *, error: str | None) -> None:
    if delivery.task_id is not None:
        owner = f"task {delivery.task_id}"
    elif delivery.taskgroup_id is not None:
        owner = f"task group {delivery.taskgroup_id}"
    else:
        owner = "no task"
    log.warning(
        "callback %s for %s to %s failed for good after %d attempts: %s",
        delivery.id,
        owner,
        delivery.url,
        delivery.attempts,
        error,
    )
