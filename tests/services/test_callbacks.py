"""The outbox rules: enqueueing in the caller's transaction, claims, retries, signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from taskmanager import workers
from taskmanager.config import parse_callback_hosts
from taskmanager.models import CallbackDelivery, TaskGroup, db, utcnow
from taskmanager.services import callback_destinations, callbacks
from taskmanager.services.kit.errors import Conflict, InvalidInput, NotFound
from taskmanager.services.tasks import statistics
from taskmanager.workers.dispatcher import Dispatcher

from ..support.callbacks import SECRET, assert_signed, count, make_tasks, quick, refused_port
from ..support.receiver import Receiver


def _row(session, delivery_id: int) -> CallbackDelivery:
    session.rollback()
    return session.get(CallbackDelivery, delivery_id, populate_existing=True)


def _set(session, delivery_id: int, **values) -> None:
    session.execute(
        update(CallbackDelivery).where(CallbackDelivery.id == delivery_id).values(**values)
    )
    session.commit()


def test_enqueue_is_part_of_the_callers_transaction(session) -> None:
    make_tasks(session, 1, "http://127.0.0.1:9/cb")
    assert count(session) == 1
    callbacks.enqueue(session, url="http://127.0.0.1:9/x", body="{}")
    session.rollback()
    assert count(session) == 1
    (delivery,) = callbacks.list_deliveries(session)[0]
    assert delivery.status == "pending" and delivery.attempts == 0
    assert delivery.url == "http://127.0.0.1:9/cb/done/0"
    assert len(delivery.idempotency_key) == 32 and delivery.method == "PUT"
    assert delivery.task_id is not None


def test_long_rendered_urls_fit(session) -> None:
    url = "http://127.0.0.1:9/cb?" + "&".join(f"subject{n}=S{n:04d}" for n in range(200))
    assert len(url) > 2000
    delivery = callbacks.enqueue(session, url=url, body=None)
    session.commit()
    assert _row(session, delivery.id).url == url


def test_nothing_is_enqueued_without_a_url(session) -> None:
    group = TaskGroup(label="g", callback_content='{"g": 1}')
    session.add(group)
    session.flush()
    assert callbacks.enqueue_for_taskgroup(session, taskgroup=group, rendered_url=None) is None
    delivery = callbacks.enqueue_for_taskgroup(
        session, taskgroup=group, rendered_url="http://127.0.0.1:9/g"
    )
    session.commit()
    assert delivery is not None and delivery.taskgroup_id == group.id
    assert delivery.body == '{"g": 1}'


def test_body_is_sent_as_json() -> None:
    assert callbacks.body_bytes('{"a": [1, 2]}') == b'{"a": [1, 2]}'
    assert callbacks.body_bytes("not json") == b'"not json"'
    assert callbacks.body_bytes(None) == b"null"


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a": NaN}', '"x\ud800"'])
def test_a_body_the_document_rules_refuse_is_sent_as_a_json_string(text: str) -> None:
    """Stored callback_content text too deep (it stopped the delivering worker with a
    RecursionError), with NaN or with a lone surrogate is sent as a JSON string."""
    sent = callbacks.body_bytes(text)
    assert json.loads(sent) == text


def test_signature_scheme_as_documented() -> None:
    body, timestamp = b'{"task": 1}', str(int(time.time()))
    expected = hmac.new(
        SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    header = callbacks.signature(SECRET, timestamp, body)
    assert header == f"sha256={expected}"
    assert callbacks.verify_signature(SECRET, timestamp=timestamp, body=body, header=header)
    assert not callbacks.verify_signature(
        SECRET, timestamp=timestamp, body=body + b" ", header=header
    )
    assert not callbacks.verify_signature("other", timestamp=timestamp, body=body, header=header)
    old = str(int(time.time()) - 3600)
    assert not callbacks.verify_signature(
        SECRET, timestamp=old, body=body, header=callbacks.signature(SECRET, old, body)
    )


def test_a_row_is_claimed_once(session, settings) -> None:
    make_tasks(session, 3, "http://127.0.0.1:9")
    first = callbacks.claim_due(session, settings=settings, limit=10)
    assert len(first) == 3
    assert callbacks.claim_due(session, settings=settings, limit=10) == []
    assert not callbacks.claim(session, delivery_id=first[0], settings=settings)
    row = _row(session, first[0])
    assert row.status == "delivering" and row.attempts == 1
    assert row.claimed_until > utcnow() + timedelta(seconds=settings.callback_timeout)


def test_concurrent_claimers_never_share_a_row(app, session, settings) -> None:
    make_tasks(session, 60, "http://127.0.0.1:9")
    # The sessions the delivery threads and workers use (READ COMMITTED on MariaDB).
    sessions = workers.session_factory_for(db.engine)
    results: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def claimer() -> None:
        claimed: list[int] = []
        try:
            with sessions() as own:
                start.wait()
                while batch := callbacks.claim_due(own, settings=settings, limit=5):
                    claimed.extend(batch)
        except BaseException as exc:  # reported below
            errors.append(exc)
        results.append(claimed)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    every = [delivery_id for claimed in results for delivery_id in claimed]
    assert len(every) == 60 and len(set(every)) == 60


def test_failed_attempts_back_off_then_fail(session, settings) -> None:
    policy = quick(settings, callback_max_attempts=3, callback_backoff=30.0)
    make_tasks(session, 1, f"http://127.0.0.1:{refused_port()}")
    for attempt in (1, 2, 3):
        (delivery_id,) = callbacks.claim_due(session, settings=policy, limit=5)
        before = utcnow()
        status = callbacks.send(session, delivery_id=delivery_id, settings=policy)
        row = _row(session, delivery_id)
        assert row.attempts == attempt and "ConnectionError" in row.last_error
        if attempt < 3:
            assert status == "pending" and row.claimed_until is None
            delay = row.next_attempt_at - before
            expected = 30.0 * 2 ** (attempt - 1)
            assert timedelta(seconds=expected - 1) < delay < timedelta(seconds=expected + 5)
            assert callbacks.claim_due(session, settings=policy, limit=5) == []
            _set(session, delivery_id, next_attempt_at=utcnow() - timedelta(seconds=1))
    assert status == "failed" and row.status == "failed"
    assert callbacks.claim_due(session, settings=policy, limit=5) == []


@pytest.mark.parametrize(
    ("answer", "delivered"), [(200, True), (202, True), (204, True), (301, False), (500, False)]
)
def test_any_2xx_counts_as_delivered(session, settings, answer, delivered) -> None:
    with Receiver(status=answer) as receiver:
        make_tasks(session, 1, receiver.url)
        (delivery_id,) = callbacks.claim_due(session, settings=quick(settings), limit=5)
        callbacks.send(session, delivery_id=delivery_id, settings=quick(settings))
    row = _row(session, delivery_id)
    assert row.last_status_code == answer
    assert (row.status == "delivered") is delivered
    if delivered:
        assert row.delivered_at is not None and row.last_error is None
    else:
        assert row.status == "pending" and row.last_error.startswith(f"HTTP {answer}")


def test_request_carries_key_and_signature(session, settings) -> None:
    with Receiver() as receiver:
        make_tasks(session, 1, receiver.url)
        (delivery_id,) = callbacks.claim_due(session, settings=quick(settings), limit=5)
        callbacks.send(session, delivery_id=delivery_id, settings=quick(settings))
    (request,) = receiver.requests
    row = _row(session, delivery_id)
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
        (delivery_id,) = callbacks.claim_due(session, settings=policy, limit=5)
        callbacks.send(session, delivery_id=delivery_id, settings=policy)
    (request,) = receiver.requests
    assert "x-taskmanager-signature" not in request.headers
    assert request.headers["idempotency-key"]


def test_expired_claims_are_taken_back(session, settings) -> None:
    policy = quick(settings, callback_max_attempts=2)
    make_tasks(session, 2, "http://127.0.0.1:9")
    retried, failed = callbacks.claim_due(session, settings=policy, limit=5)
    _set(session, failed, attempts=2)
    assert callbacks.reap_expired(session, settings=policy) == 0  # leases still running
    for delivery_id in (retried, failed):
        _set(session, delivery_id, claimed_until=utcnow() - timedelta(seconds=1))
    assert callbacks.reap_expired(session, settings=policy) == 2
    assert _row(session, retried).status == "pending"
    assert _row(session, failed).status == "failed"
    assert "stopped" in _row(session, failed).last_error
    assert callbacks.claim_due(session, settings=policy, limit=5) == [retried]


def test_an_expired_claim_can_be_taken_over_and_the_old_outcome_is_ignored(
    session, settings
) -> None:
    make_tasks(session, 1, "http://127.0.0.1:9")
    (delivery_id,) = callbacks.claim_due(session, settings=settings, limit=5)
    stale = _row(session, delivery_id)
    session.expunge(stale)
    _set(session, delivery_id, claimed_until=utcnow() - timedelta(seconds=1))
    assert callbacks.claim(session, delivery_id=delivery_id, settings=settings)
    outcome = callbacks.Outcome(delivered=True, status_code=200, error=None)
    assert (
        callbacks._record(session, delivery=stale, outcome=outcome, settings=settings) == "lapsed"
    )
    row = _row(session, delivery_id)
    assert row.status == "delivering" and row.attempts == 2


def test_retry_only_failed_deliveries(session) -> None:
    make_tasks(session, 2, "http://127.0.0.1:9")
    failed_id, pending_id = (d.id for d in callbacks.list_deliveries(session)[0])
    _set(session, failed_id, status="failed", attempts=8, last_error="HTTP 500")
    delivery = callbacks.retry(session, delivery_id=failed_id)
    session.commit()
    assert delivery.status == "pending" and delivery.attempts == 0
    assert delivery.next_attempt_at <= utcnow()
    with pytest.raises(Conflict):
        callbacks.retry(session, delivery_id=pending_id)
    with pytest.raises(NotFound):
        callbacks.retry(session, delivery_id=10**9)
    with pytest.raises(NotFound):
        callbacks.get_or_raise(session, delivery_id="nope")


def test_list_filters_pages_and_counts(session) -> None:
    tasks = make_tasks(session, 5, "http://127.0.0.1:9")
    group = TaskGroup(label="g")
    session.add(group)
    session.flush()
    callbacks.enqueue_for_taskgroup(session, taskgroup=group, rendered_url="http://127.0.0.1:9/g")
    session.commit()
    ids = [d.id for d in callbacks.list_deliveries(session, limit=100)[0]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 6
    _set(session, ids[1], status="failed")
    _set(session, ids[2], status="delivered")

    page, total = callbacks.list_deliveries(session, offset=1, limit=2)
    assert total == 6 and [d.id for d in page] == ids[1:3]
    assert callbacks.list_deliveries(session, status="failed")[1] == 1
    (only,), total = callbacks.list_deliveries(session, task_id=tasks[3].id)
    assert total == 1 and only.task_id == tasks[3].id
    (only,), total = callbacks.list_deliveries(session, taskgroup_id=group.id)
    assert total == 1 and only.taskgroup_id == group.id
    with pytest.raises(InvalidInput):
        callbacks.list_deliveries(session, status="lost")
    assert statistics.count_callbacks_by_status(session) == {
        "pending": 4,
        "delivering": 0,
        "delivered": 1,
        "failed": 1,
    }


def test_published_ids_are_not_published_again_until_presumed_lost(session, settings) -> None:
    make_tasks(session, 3, "http://127.0.0.1:9")
    published = callbacks.mark_published(session, limit=10)
    assert len(published) == 3
    assert callbacks.mark_published(session, limit=10) == []
    callbacks.unmark_published(session, delivery_ids=published[:1])
    assert callbacks.mark_published(session, limit=10) == published[:1]
    _set(session, published[1], claimed_until=utcnow() - timedelta(seconds=1))
    assert callbacks.mark_published(session, limit=10) == [published[1]]
    # A published row is still claimable by whoever receives the message.
    assert sorted(callbacks.claim_due(session, settings=settings, limit=10)) == sorted(published)


def test_workers_are_woken_after_commits_that_enqueue(session) -> None:
    calls: list[int] = []

    def listener() -> None:
        calls.append(1)

    callbacks.add_commit_listener(listener)
    try:
        callbacks.enqueue(session, url="http://127.0.0.1:9/a", body=None)
        session.rollback()
        session.commit()
        assert calls == []
        callbacks.enqueue(session, url="http://127.0.0.1:9/a", body=None)
        session.commit()
        assert calls == [1]
        session.commit()
        assert calls == [1]
    finally:
        callbacks.remove_commit_listener(listener)


def _age(session, delivery_id: int, status: str, days: float) -> None:
    _set(session, delivery_id, status=status, delivered_at=utcnow() - timedelta(days=days))


def test_old_delivered_rows_are_purged_in_batches_and_failed_ones_kept(session) -> None:
    make_tasks(session, 7, "http://127.0.0.1:9")
    ids = sorted(d.id for d in callbacks.list_deliveries(session)[0])
    old_delivered, recent, old_failed, pending = ids[:4], ids[4], ids[5], ids[6]
    for delivery_id in old_delivered:
        _age(session, delivery_id, "delivered", days=31)
    _age(session, recent, "delivered", days=29)
    _age(session, old_failed, "failed", days=90)
    assert callbacks.purge_delivered(session, older_than=timedelta(days=30), batch=3) == 4
    left = {d.id: d.status for d in callbacks.list_deliveries(session)[0]}
    assert left == {recent: "delivered", old_failed: "failed", pending: "pending"}
    assert callbacks.purge_delivered(session, older_than=timedelta(days=30)) == 0


def test_dispatchers_purge_now_and_then_unless_kept_forever(session, settings) -> None:
    make_tasks(session, 2, "http://127.0.0.1:9")
    first, second = sorted(d.id for d in callbacks.list_deliveries(session)[0])
    _age(session, first, "delivered", days=400)
    forever = Dispatcher(
        session_factory=lambda: session,
        settings=quick(settings, callback_retention_days=0),
        poll=True,
    )
    forever.reap_now_and_then(session)
    assert count(session) == 2
    yearly = Dispatcher(
        session_factory=lambda: session,
        settings=quick(settings, callback_retention_days=365),
        poll=True,
    )
    yearly.reap_now_and_then(session)
    assert {d.id for d in callbacks.list_deliveries(session)[0]} == {second}
    # Not again within the hour: a row aged meanwhile stays until the next purge.
    _age(session, second, "delivered", days=400)
    yearly.reap_now_and_then(session)
    assert {d.id for d in callbacks.list_deliveries(session)[0]} == {second}


# --- destinations (TASKMAN_CALLBACK_ALLOWED_HOSTS) ------------------------------------------


def _attempt_once(session, settings, url: str) -> CallbackDelivery:
    """One delivery to `url`, claimed and attempted once; the row afterwards."""
    delivery = callbacks.enqueue(session, url=url, body='{"done": true}')
    session.commit()
    assert callbacks.claim(session, delivery_id=delivery.id, settings=settings)
    callbacks.send(session, delivery_id=delivery.id, settings=settings)
    return _row(session, delivery.id)


@pytest.mark.parametrize(
    ("allowed", "host", "delivered"),
    [
        (None, "127.0.0.1", True),  # the default: anywhere but link-local
        ("*", "127.0.0.1", True),
        ("127.0.0.0/8", "127.0.0.1", True),
        ("127.0.0.1", "localhost", True),  # a name whose every address is allowed
        ("localhost", "localhost", True),  # allowed by name
        ("localhost", "127.0.0.1", False),  # the name does not allow the address
        ("governor.example.org,10.0.5.0/24", "127.0.0.1", False),
        ("governor.example.org,10.0.5.0/24", "localhost", False),  # resolves outside
        ("governor.example.org,10.0.5.0/24", "2130706433", False),  # 127.0.0.1 as a number
    ],
)
def test_callbacks_go_only_where_allowed(session, settings, allowed, host, delivered) -> None:
    """Checked when the connection is made, after resolving; a refusal fails the delivery at
    once (no retries) with the reason, and nothing reaches the receiver."""
    policy = quick(settings, callback_allowed_hosts=parse_callback_hosts(allowed))
    with Receiver() as receiver:
        row = _attempt_once(session, policy, f"http://{host}:{receiver.port}/cb")
    assert row.attempts == 1
    if delivered:
        assert row.status == "delivered" and len(receiver.requests) == 1
    else:
        assert row.status == "failed" and receiver.requests == []
        assert row.last_error.startswith("Refused: ")
        assert "TASKMAN_CALLBACK_ALLOWED_HOSTS" in row.last_error
        assert row.last_status_code is None


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/",
        "http://[fe80::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64
        "http://2852039166/",  # 169.254.169.254 as one number
        "http://0xa9.0xfe.0xa9.0xfe/",
    ],
)
def test_link_local_and_cloud_metadata_are_refused_by_default(session, settings, url) -> None:
    row = _attempt_once(session, quick(settings), url)
    assert row.status == "failed" and row.attempts == 1
    assert row.last_error.startswith("Refused: ")
    assert "not a destination TASKMAN_CALLBACK_ALLOWED_HOSTS allows" in row.last_error


def _resolver(monkeypatch, answers: dict[str, list[list[str]]]) -> list[str]:
    """Names in `answers` resolve to their next list of addresses (a DNS server changing its
    answer between lookups); other hosts as usual. Returns the names looked up, in order."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            asked.append(host)
            addresses = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
            return [
                entry for address in addresses for entry in real(address, port, *args, **kwargs)
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_the_connection_goes_to_the_address_that_was_checked(
    session, settings, monkeypatch
) -> None:
    """DNS rebinding: the name is resolved once, when connecting, and the connection goes to
    the checked address; a second answer (the metadata address) is never asked for."""
    asked = _resolver(monkeypatch, {"governor.test": [["127.0.0.1"], ["169.254.169.254"]]})
    with Receiver() as receiver:
        row = _attempt_once(session, quick(settings), f"http://governor.test:{receiver.port}/cb")
    assert row.status == "delivered" and len(receiver.requests) == 1
    assert asked == ["governor.test"]


def test_a_name_with_any_refused_address_is_refused(session, settings, monkeypatch) -> None:
    _resolver(monkeypatch, {"governor.test": [["127.0.0.1", "169.254.169.254"]]})
    with Receiver() as receiver:
        row = _attempt_once(session, quick(settings), f"http://governor.test:{receiver.port}/cb")
    assert row.status == "failed" and receiver.requests == []
    assert "governor.test resolves to 169.254.169.254" in row.last_error


def test_redirects_are_not_followed(session, settings) -> None:
    with Receiver(status=302) as receiver:
        receiver.location = "http://169.254.169.254/latest/meta-data/"
        row = _attempt_once(session, quick(settings), f"{receiver.url}/cb")
    assert row.status == "pending" and row.last_status_code == 302
    assert len(receiver.requests) == 1


def test_through_a_proxy_the_destination_is_checked_before_sending(
    session, settings, monkeypatch
) -> None:
    """The proxy connects, so the host and what it resolves to here are checked first."""
    with Receiver(status=200) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        refused = _attempt_once(session, quick(settings), "http://169.254.169.254/latest/")
        strict = quick(settings, callback_allowed_hosts=parse_callback_hosts("10.0.5.0/24"))
        unknown = _attempt_once(session, strict, "http://governor.invalid/cb")
        allowed = _attempt_once(session, quick(settings), "http://governor.invalid/cb")
    assert refused.status == "failed" and "169.254.169.254" in refused.last_error
    assert unknown.status == "failed" and "does not resolve here" in unknown.last_error
    # Allowed anywhere: a name only the proxy can resolve goes to the proxy.
    assert allowed.status == "delivered"
    assert [request.path for request in proxy.requests] == ["http://governor.invalid/cb"]


@pytest.mark.parametrize(
    ("allowed", "url", "refused"),
    [
        (None, "http://169.254.169.254/latest", True),
        (None, "http://[fe80::1%25eth0]:8080/", True),
        (None, "http://2852039166/", True),
        (None, "http://127.0.0.1:9/cb", False),
        (None, "http://metadata.example/cb", False),  # decided by what it resolves to
        (None, "http://$GOVERNOR/cb", False),  # meta variables: decided when delivered
        (None, "$GOVERNOR_URL/done", False),
        ("governor.example.org", "http://governor.example.org./cb", False),
        ("governor.example.org", "http://GOVERNOR.example.org/cb", False),
        ("governor.example.org", "http://other.example.org/cb", True),
        ("governor.example.org", "http://127.0.0.1/cb", True),
        ("*.example.org", "http://a.b.example.org/cb", False),
        ("*.example.org", "http://example.org/cb", True),
        ("governor.example.org,10.0.5.0/24", "http://10.0.5.7/cb", False),
        ("governor.example.org,10.0.5.0/24", "http://10.0.6.7/cb", True),
        ("governor.example.org,10.0.5.0/24", "http://other.example.org/cb", False),
        ("*", "http://169.254.169.254/", False),
    ],
)
def test_written_out_hosts_that_are_never_allowed_are_refused_early(allowed, url, refused) -> None:
    hosts = parse_callback_hosts(allowed)
    if refused:
        with pytest.raises(InvalidInput) as error:
            callback_destinations.check_url(url, hosts=hosts, field="callback_url")
        assert list(error.value.errors) == ["callback_url"]
        assert "TASKMAN_CALLBACK_ALLOWED_HOSTS" in error.value.message
    else:
        callback_destinations.check_url(url, hosts=hosts, field="callback_url")
