"""Sending one callback delivery over HTTP: the request (body, headers, signature), the attempt,
and its outcome recorded in the outbox (`services.callbacks.outbox`).

A delivery is sent only by the process that claimed it, and no transaction stays open while its
request is made. `send` and `deliver` commit.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import time
from importlib import metadata

import requests
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import CallbackDelivery, DeliveryStatus
from ..services.callbacks import outbox
from ..services.callbacks.destinations import DestinationRefused
from ..services.callbacks.policy import Outcome
from ..services.kit import documents
from . import http

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
ATTEMPT_HEADER = "X-TaskManager-Attempt"
TIMESTAMP_HEADER = "X-TaskManager-Timestamp"
SIGNATURE_HEADER = "X-TaskManager-Signature"
# How much of a receiver's error answer is kept in last_error.
ERROR_EXCERPT = 300


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
def user_agent() -> str:
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
        "User-Agent": user_agent(),
        IDEMPOTENCY_HEADER: delivery.idempotency_key,
        ATTEMPT_HEADER: str(delivery.attempts),
    }
    if settings.callback_secret:
        timestamp = str(int(time.time() if now is None else now))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = signature(settings.callback_secret, timestamp, data)
    return data, headers


def attempt(delivery: CallbackDelivery, settings: Settings) -> Outcome:
    """Make the request once; what came of it."""
    data, headers = request_parts(delivery, settings=settings)
    try:
        with (
            http.session(settings.callback_allowed_hosts) as checked,
            checked.request(
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
    except DestinationRefused as exc:
        return Outcome(False, None, f"Refused: {exc}", final=True)
    except requests.RequestException as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:1000])


def send(session: Session, *, delivery_id: int, settings: Settings) -> str:
    """Make the HTTP attempt for a delivery this process claimed; its new status (commits)."""
    delivery = outbox.load_detached(session, delivery_id=delivery_id)
    if delivery is None:
        return "gone"
    if delivery.status != DeliveryStatus.DELIVERING:
        return delivery.status
    outcome = attempt(delivery, settings)
    if not outcome.delivered:
        level = logging.WARNING if outcome.final else logging.INFO
        log.log(
            level,
            "callback %s attempt %s failed: %s",
            delivery.id,
            delivery.attempts,
            outcome.error,
        )
    return outbox.record(session, delivery=delivery, outcome=outcome, settings=settings)


def deliver(session: Session, *, delivery_id: int, settings: Settings) -> str:
    """Claim one delivery by id and attempt it (what a queue worker does with a message)."""
    if not outbox.claim(session, delivery_id=delivery_id, settings=settings):
        return "skipped"
    return send(session, delivery_id=delivery_id, settings=settings)
