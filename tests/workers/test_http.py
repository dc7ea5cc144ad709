"""Where a callback is sent (TASKMAN_CALLBACK_ALLOWED_HOSTS), checked when its connection is made."""

from __future__ import annotations

import socket

import pytest

from taskmanager.config import parse_callback_hosts
from taskmanager.models import CallbackDelivery
from taskmanager.services.callbacks import outbox
from taskmanager.workers.delivery import send

from ..support.callbacks import fresh_row, quick
from ..support.receiver import Receiver


def _attempt_once(session, settings, url: str) -> CallbackDelivery:
    """One delivery to `url`, claimed and attempted once; the row afterwards."""
    delivery = outbox.enqueue(session, url=url, body='{"done": true}')
    session.commit()
    assert outbox.claim(session, delivery_id=delivery.id, settings=settings)
    send(session, delivery_id=delivery.id, settings=settings)
    return fresh_row(session, delivery.id)


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
