"""Sending a delivery: the body, the signature, the request, and what an attempt's outcome does."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest

from taskmanager.models import utcnow
from taskmanager.services.callbacks import outbox
from taskmanager.workers import delivery

from ..support.callbacks import (
    SECRET,
    assert_signed,
    fresh_row,
    make_tasks,
    quick,
    refused_port,
    set_row,
)
from ..support.receiver import Receiver


def test_body_is_sent_as_json() -> None:
    assert delivery.body_bytes('{"a": [1, 2]}') == b'{"a": [1, 2]}'
    assert delivery.body_bytes("not json") == b'"not json"'
    assert delivery.body_bytes(None) == b"null"


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a": NaN}', '"x\ud800"'])
def test_a_body_the_document_rules_refuse_is_sent_as_a_json_string(text: str) -> None:
    """Stored callback_content text too deep (it stopped the delivering worker with a
    RecursionError), with NaN or with a lone surrogate is sent as a JSON string."""
    sent = delivery.body_bytes(text)
    assert json.loads(sent) == text


def test_signature_scheme_as_documented() -> None:
    body, timestamp = b'{"task": 1}', str(int(time.time()))
    expected = hmac.new(
        SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    header = delivery.signature(SECRET, timestamp, body)
    assert header == f"sha256={expected}"
    assert delivery.verify_signature(SECRET, timestamp=timestamp, body=body, header=header)
    assert not delivery.verify_signature(
        SECRET, timestamp=timestamp, body=body + b" ", header=header
    )
    assert not delivery.verify_signature("other", timestamp=timestamp, body=body, header=header)
    old = str(int(time.time()) - 3600)
    assert not delivery.verify_signature(
        SECRET, timestamp=old, body=body, header=delivery.signature(SECRET, old, body)
    )


def test_failed_attempts_back_off_then_fail(session, settings) -> None:
    policy = quick(settings, callback_max_attempts=3, callback_backoff=30.0)
    make_tasks(session, 1, f"http://127.0.0.1:{refused_port()}")
    for attempt in (1, 2, 3):
        (delivery_id,) = outbox.claim_due(session, settings=policy, limit=5)
        before = utcnow()
        status = delivery.send(session, delivery_id=delivery_id, settings=policy)
        row = fresh_row(session, delivery_id)
        assert row.attempts == attempt and "ConnectionError" in row.last_error
        if attempt < 3:
            assert status == "pending" and row.claimed_until is None
            delay = row.next_attempt_at - before
            expected = 30.0 * 2 ** (attempt - 1)
            assert timedelta(seconds=expected - 1) < delay < timedelta(seconds=expected + 5)
            assert outbox.claim_due(session, settings=policy, limit=5) == []
            set_row(session, delivery_id, next_attempt_at=utcnow() - timedelta(seconds=1))
    assert status == "failed" and row.status == "failed"
    assert outbox.claim_due(session, settings=policy, limit=5) == []


@pytest.mark.parametrize(
    ("answer", "delivered"), [(200, True), (202, True), (204, True), (301, False), (500, False)]
)
def test_any_2xx_counts_as_delivered(session, settings, answer, delivered) -> None:
    with Receiver(status=answer) as receiver:
        make_tasks(session, 1, receiver.url)
        (delivery_id,) = outbox.claim_due(session, settings=quick(settings), limit=5)
        delivery.send(session, delivery_id=delivery_id, settings=quick(settings))
    row = fresh_row(session, delivery_id)
    assert row.last_status_code == answer
    assert (row.status == "delivered") is delivered
    if delivered:
        assert row.delivered_at is not None and row.last_error is None
    else:
        assert row.status == "pending" and row.last_error.startswith(f"HTTP {answer}")


def test_request_carries_key_and_signature(session, settings) -> None:
    with Receiver() as receiver:
        make_tasks(session, 1, receiver.url)
        (delivery_id,) = outbox.claim_due(session, settings=quick(settings), limit=5)
        delivery.send(session, delivery_id=delivery_id, settings=quick(settings))
    (request,) = receiver.requests
    row = fresh_row(session, delivery_id)
    assert request.method == "PUT" and request.path == "/done/0"
    assert request.body == row.body.encode()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == row.idempotency_key
    assert request.headers["x-taskmanager-attempt"] == "1"
    assert_signed(request)


def test_unsigned_without_a_secret(session, settings) -> None:
    with Receiver() as receiver:
        make_tasks(session, 1, receiver.url)
        policy = quick(settings, callback_secret=None)
        (delivery_id,) = outbox.claim_due(session, settings=policy, limit=5)
        delivery.send(session, delivery_id=delivery_id, settings=policy)
    (request,) = receiver.requests
    assert "x-taskmanager-signature" not in request.headers
    assert request.headers["idempotency-key"]


def test_a_delivery_that_gives_up_is_logged_with_its_task_and_url(
    session, settings, caplog
) -> None:
    policy = quick(settings, callback_max_attempts=2)
    url = f"http://127.0.0.1:{refused_port()}"
    (task,) = make_tasks(session, 1, url)
    with caplog.at_level("INFO", logger="taskmanager"):
        for _ in range(2):
            set_row(session, outbox.list_deliveries(session)[0][0].id, next_attempt_at=utcnow())
            (delivery_id,) = outbox.claim_due(session, settings=policy, limit=5)
            delivery.send(session, delivery_id=delivery_id, settings=policy)
    gave_up = [r for r in caplog.records if "failed for good" in r.getMessage()]
    (record,) = gave_up
    assert record.levelname == "WARNING"
    assert f"task {task.id}" in record.getMessage()
    assert f"{url}/done/0" in record.getMessage()
    assert "after 2 attempts" in record.getMessage()
