"""Callbacks as an outbox: a delivery row written in the transaction of the change causing it.

A row moves pending -> delivering (claimed, under a lease) -> delivered, or back to pending with
a later `next_attempt_at` after a failed attempt, or to failed after the last attempt. Claims are
conditional UPDATEs (after SELECT ... FOR UPDATE SKIP LOCKED where the database has it), so two
processes never send the same row because both picked it. Queues (Celery, RQ) only carry ids.
The transaction-owning functions here (`claim_due`, `claim`, `send`, `deliver`, `reap_expired`,
`mark_published`) commit themselves: a claim must be visible to other processes before the HTTP
request starts.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import metadata
from typing import Any

import requests
from sqlalchemy import ColumnElement, and_, delete, event, func, or_, select, update
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import CallbackDelivery, Task, TaskGroup, utcnow
from . import callback_destinations
from .kit import documents, references
from .kit.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

STATUSES = ("pending", "delivering", "delivered", "failed")
IDEMPOTENCY_HEADER = "Idempotency-Key"
ATTEMPT_HEADER = "X-TaskManager-Attempt"
TIMESTAMP_HEADER = "X-TaskManager-Timestamp"
SIGNATURE_HEADER = "X-TaskManager-Signature"
# A claim outlives the request it covers (connect and read timeouts each up to the timeout).
LEASE_MARGIN_SECONDS = 5.0
# A published id whose row is still pending this long after is published again (message lost).
REPUBLISH_AFTER = timedelta(seconds=60)
# How much of a receiver's error answer is kept in last_error.
ERROR_EXCERPT = 300

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
        status="pending",
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
        if status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
        conditions.append(CallbackDelivery.status == status)
    if task_id is not None:
        conditions.append(CallbackDelivery.task_id == task_id)
    if taskgroup_id is not None:
        conditions.append(CallbackDelivery.taskgroup_id == taskgroup_id)
    total = session.scalar(select(func.count(CallbackDelivery.id)).where(*conditions)) or 0
    page = session.scalars(
        select(CallbackDelivery)
        .where(*conditions)
        .order_by(CallbackDelivery.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(page), total


# --- retrying by hand ---------------------------------------------------------------------------


def retry(session: Session, *, delivery_id: int | str) -> CallbackDelivery:
    """Give a failed delivery a fresh set of attempts, due now (the caller commits)."""
    delivery = get_or_raise(session, delivery_id=delivery_id)
    result = session.execute(
        update(CallbackDelivery)
        .where(CallbackDelivery.id == delivery.id, CallbackDelivery.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=utcnow(), claimed_until=None)
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


def lease(settings: Settings) -> timedelta:
    """How long a claim stays valid before another process may take the row over."""
    return timedelta(seconds=2 * settings.callback_timeout + LEASE_MARGIN_SECONDS)


def backoff_delay(settings: Settings, attempts: int) -> timedelta:
    """Wait before the next attempt after `attempts` failed ones: backoff * 2^(attempts-1)."""
    return timedelta(seconds=settings.callback_backoff * 2 ** max(attempts - 1, 0))


def _claimable(now: datetime, settings: Settings) -> ColumnElement[bool]:
    return or_(
        and_(CallbackDelivery.status == "pending", CallbackDelivery.next_attempt_at <= now),
        and_(
            CallbackDelivery.status == "delivering",
            CallbackDelivery.claimed_until < now,
            CallbackDelivery.attempts < settings.callback_max_attempts,
        ),
    )


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
            .where(CallbackDelivery.id == delivery_id, _claimable(now, settings))
            .values(
                status="delivering",
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
    ids = _candidates(session, _claimable(now, settings), limit)
    claimed = _claim_ids(session, ids, now, settings) if ids else []
    session.commit()
    return claimed


def claim(session: Session, *, delivery_id: int, settings: Settings) -> bool:
    """Claim one delivery by id (a queue message); False when it is not due or someone has it."""
    claimed = _claim_ids(session, [delivery_id], utcnow(), settings)
    session.commit()
    return bool(claimed)


def reap_expired(session: Session, *, settings: Settings, limit: int = 500) -> int:
    """Deliveries whose worker vanished mid-attempt: retry now, or fail after the last attempt."""
    now = utcnow()
    expired = and_(CallbackDelivery.status == "delivering", CallbackDelivery.claimed_until < now)
    ids = _candidates(session, expired, limit)
    if not ids:
        session.commit()
        return 0
    lost = "the worker delivering it stopped before recording the outcome"
    last = CallbackDelivery.attempts >= settings.callback_max_attempts
    reaped = 0
    for condition, values in (
        (last, {"status": "failed"}),
        (~last, {"status": "pending", "next_attempt_at": now}),
    ):
        result = session.execute(
            update(CallbackDelivery)
            .where(CallbackDelivery.id.in_(ids), expired, condition)
            .values(claimed_until=None, last_error=lost, **values)
            .execution_options(synchronize_session=False)
        )
        reaped += result.rowcount  # type: ignore[attr-defined]
    session.commit()
    return reaped


def purge_delivered(session: Session, *, older_than: timedelta, batch: int = 1000) -> int:
    """Delete deliveries delivered before `older_than` ago, in batches; how many (commits).

    Failed ones stay: they wait for someone to look at them. Processes purging at once take
    different rows (locked, skipping those another holds), so none waits for another.
    """
    cutoff = utcnow() - older_than
    old = and_(CallbackDelivery.status == "delivered", CallbackDelivery.delivered_at < cutoff)
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


def mark_published(session: Session, *, limit: int) -> list[int]:
    """Due pending deliveries not published recently, marked as published now; ids (commits).

    For the queue backends: `claimed_until` on a pending row means "a message for it is queued
    until then", so a periodic sweep does not flood the queue with copies.
    """
    now = utcnow()
    publishable = and_(
        CallbackDelivery.status == "pending",
        CallbackDelivery.next_attempt_at <= now,
        or_(CallbackDelivery.claimed_until.is_(None), CallbackDelivery.claimed_until < now),
    )
    marked = []
    for delivery_id in _candidates(session, publishable, limit):
        result = session.execute(
            update(CallbackDelivery)
            .where(CallbackDelivery.id == delivery_id, publishable)
            .values(claimed_until=now + REPUBLISH_AFTER)
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
            .where(CallbackDelivery.id.in_(delivery_ids), CallbackDelivery.status == "pending")
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )
    session.commit()


# --- the request ----------------------------------------------------------------------------


def body_bytes(body: str | None) -> bytes:
    """The JSON sent: callback_content as is when it is JSON, else as a JSON string."""
    if body is None:
        return b"null"
    try:
        # The rules every document is held to: text too deep, with NaN or a lone surrogate is
        # sent as a JSON string rather than stopping the delivering worker.
        documents.parse_json(body)
    except ValueError:
        return json.dumps(body).encode()
    return body.encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>` keyed with the shared secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str, *, timestamp: str, body: bytes, header: str, tolerance: float = 300.0
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(signature(secret, timestamp, body), header)


@functools.cache
def _user_agent() -> str:
    try:
        return f"TaskManager/{metadata.version('taskmanager')}"
    except metadata.PackageNotFoundError:
        return "TaskManager"


def request_parts(
    delivery: CallbackDelivery, *, settings: Settings, now: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of one attempt."""
    data = body_bytes(delivery.body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": _user_agent(),
        IDEMPOTENCY_HEADER: delivery.idempotency_key,
        ATTEMPT_HEADER: str(delivery.attempts),
    }
    if settings.callback_secret:
        timestamp = str(int(time.time() if now is None else now))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = signature(settings.callback_secret, timestamp, data)
    return data, headers


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str | None
    # Trying again cannot help (the destination is not allowed): failed at once.
    final: bool = False


def _attempt(delivery: CallbackDelivery, settings: Settings) -> Outcome:
    data, headers = request_parts(delivery, settings=settings)
    try:
        with (
            callback_destinations.session(settings.callback_allowed_hosts) as http,
            http.request(
                delivery.method,
                delivery.url,
                data=data,
                headers=headers,
                timeout=settings.callback_timeout,
                # A redirect would turn the PUT into a GET on most servers; the URL must be final.
                allow_redirects=False,
                stream=True,
            ) as response,
        ):
            code = response.status_code
            # Read (a bounded part of) the answer: closing with it unread resets the connection.
            excerpt = response.raw.read(ERROR_EXCERPT, decode_content=True) or b""
            if 200 <= code < 300:
                return Outcome(True, code, None)
            text = excerpt.decode("utf-8", "replace").strip()
            return Outcome(False, code, f"HTTP {code}" + (f": {text}" if text else ""))
    except callback_destinations.DestinationRefused as exc:
        return Outcome(False, None, f"Refused: {exc}", final=True)
    except requests.RequestException as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:1000])


def _record(
    session: Session, *, delivery: CallbackDelivery, outcome: Outcome, settings: Settings
) -> str:
    now = utcnow()
    values: dict[str, Any] = {
        "claimed_until": None,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.delivered:
        values.update(status="delivered", delivered_at=now)
    elif outcome.final or delivery.attempts >= settings.callback_max_attempts:
        values.update(status="failed")
    else:
        values.update(
            status="pending", next_attempt_at=now + backoff_delay(settings, delivery.attempts)
        )
    # Fenced by the attempt number: a worker whose lease lapsed and was taken over records nothing.
    result = session.execute(
        update(CallbackDelivery)
        .where(
            CallbackDelivery.id == delivery.id,
            CallbackDelivery.status == "delivering",
            CallbackDelivery.attempts == delivery.attempts,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        log.warning("callback %s: claim lapsed before the outcome was recorded", delivery.id)
        return "lapsed"
    return str(values["status"])


def send(session: Session, *, delivery_id: int, settings: Settings) -> str:
    """Make the HTTP attempt for a delivery this process claimed; its new status (commits)."""
    delivery = session.get(CallbackDelivery, delivery_id, populate_existing=True)
    if delivery is None or delivery.status != "delivering":
        session.commit()
        return "gone" if delivery is None else delivery.status
    # Keep the loaded values, and hold no transaction open during the request.
    session.expunge(delivery)
    session.commit()
    outcome = _attempt(delivery, settings)
    if not outcome.delivered:
        level = logging.WARNING if outcome.final else logging.INFO
        log.log(
            level,
            "callback %s attempt %s failed: %s",
            delivery.id,
            delivery.attempts,
            outcome.error,
        )
    return _record(session, delivery=delivery, outcome=outcome, settings=settings)


def deliver(session: Session, *, delivery_id: int, settings: Settings) -> str:
    """Claim one delivery by id and attempt it (what a queue worker does with a message)."""
    if not claim(session, delivery_id=delivery_id, settings=settings):
        return "skipped"
    return send(session, delivery_id=delivery_id, settings=settings)
