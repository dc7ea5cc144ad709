"""Callback URLs whose written-out host is never allowed are refused when they are given."""

from __future__ import annotations

import pytest

from taskmanager.config import parse_callback_hosts
from taskmanager.services.callbacks import destinations
from taskmanager.services.kit.errors import InvalidInput


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
            destinations.check_url(url, hosts=hosts, field="callback_url")
        assert list(error.value.errors) == ["callback_url"]
        assert "TASKMAN_CALLBACK_ALLOWED_HOSTS" in error.value.message
    else:
        destinations.check_url(url, hosts=hosts, field="callback_url")
