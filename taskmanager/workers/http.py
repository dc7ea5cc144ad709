"""The HTTP connection of a callback: it goes only where TASKMAN_CALLBACK_ALLOWED_HOSTS allows.

The host is resolved when the connection is made, every address is checked against the rules
(`services.callbacks.destinations`), and the connection goes to a checked address rather than
resolving again, so a DNS answer that changes in between (rebinding) gains nothing. Through a
proxy, the destination is checked before the request is sent.
"""

from __future__ import annotations

import functools
import socket
from typing import Any, ClassVar

import requests
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection

from ..config import CallbackHosts
from ..services.callbacks.destinations import DestinationRefused, check_before_proxy, resolve


class _Refused(NewConnectionError):
    """DestinationRefused as urllib3 carries a connection failure out to requests."""

    def __init__(self, conn: Any, refusal: DestinationRefused) -> None:
        super().__init__(conn, str(refusal))
        self.refusal = refusal


class _CheckedConnection(HTTPConnection):
    """Connects only to addresses its host resolved to and the rules allow, checked here, at
    connection time, and connects to the checked address rather than resolving again."""

    hosts: ClassVar[CallbackHosts]

    def _new_conn(self) -> socket.socket:
        try:
            addresses = resolve(self.hosts, self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except DestinationRefused as refusal:
            raise _Refused(self, refusal) from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError:
                failure = ConnectTimeoutError(
                    self, f"Connection to {self.host} ({address}) timed out"
                )
            except OSError as exc:
                failure = NewConnectionError(self, f"Failed to connect to {address}: {exc}")
        assert failure is not None  # getaddrinfo answers at least one address or raises
        raise failure


@functools.cache
def _pool_classes(hosts: CallbackHosts) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pools whose connections check against `hosts` (one set of classes per rules)."""
    plain = type("CheckedHTTPConnection", (_CheckedConnection,), {"hosts": hosts})
    tls = type("CheckedHTTPSConnection", (_CheckedConnection, HTTPSConnection), {"hosts": hosts})
    return {
        "http": type("CheckedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
        "https": type("CheckedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
    }


class CheckedAdapter(HTTPAdapter):
    """requests' adapter, connecting only where `hosts` allows (DestinationRefused otherwise)."""

    def __init__(self, hosts: CallbackHosts) -> None:
        self.hosts = hosts
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # An attribute of this pool manager only (the default is urllib3's module-level dict).
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.hosts)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        if request.url and select_proxy(request.url, proxies or {}):
            check_before_proxy(self.hosts, request.url)
        try:
            return super().send(request, stream, timeout, verify, cert, proxies)
        except requests.ConnectionError as exc:
            reason = getattr(exc.args[0] if exc.args else None, "reason", None)
            if isinstance(reason, _Refused):
                raise reason.refusal from None
            raise


def session(hosts: CallbackHosts) -> requests.Session:
    """A requests session that sends only where `hosts` allows."""
    checked = requests.Session()
    adapter = CheckedAdapter(hosts)
    checked.mount("http://", adapter)
    checked.mount("https://", adapter)
    return checked
