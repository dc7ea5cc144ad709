"""Where callbacks may be sent (TASKMAN_CALLBACK_ALLOWED_HOSTS), checked twice.

Early, when a task or task group is given a callback URL whose host is written out (no `$VAR`):
a host that can never be allowed is refused with 400. Then, the check that counts, on every
delivery attempt at the moment the connection is made: the host is resolved, every address it
resolves to must be allowed (unless the host is allowed by name), and the connection goes to an
address that was checked, so a DNS answer that changes between the check and the connection
(rebinding) gains nothing. Deliveries never follow redirects.

Through an outbound proxy (HTTP_PROXY/HTTPS_PROXY) the proxy connects: the host and what it
resolves to here are checked before the request is sent, and the proxy's own rules do the rest.
The rules are here; the connection that applies them is `workers.http`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from ...config import CallbackHosts
from ..kit.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# What TASKMAN_CALLBACK_ALLOWED_HOSTS unset means; for callers that are given no rules.
DEFAULT = CallbackHosts()
SETTING = "TASKMAN_CALLBACK_ALLOWED_HOSTS"
# IPv6 addresses that stand for an IPv4 address (NAT64's well-known prefix): checked as that.
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(Exception):
    """The callback's host, or an address it resolves to, is not an allowed destination."""


def allows_name(hosts: CallbackHosts, host: str) -> bool:
    """The host is allowed by name, wherever it resolves to."""
    name = host.lower().rstrip(".")
    return name in hosts.names or any(name.endswith(domain) for domain in hosts.domains)


def allows_address(hosts: CallbackHosts, address: IPAddress) -> bool:
    checked = _embedded_ipv4(address)
    if hosts.anywhere:
        return not any(checked in network for network in hosts.refused)
    return any(checked in network for network in hosts.networks)


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """An IPv4-mapped or NAT64 address reaches an IPv4 host: the rules apply to that host."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _numeric_address(host: str) -> IPAddress | None:
    """The address a host written as a number stands for (also `2852039166`, `0xa9fea9fe`, the
    forms the resolver accepts), without asking DNS; None for a name."""
    with contextlib.suppress(ValueError):
        # Also an IPv6 address with a zone (`fe80::1%eth0`), which the resolver refuses when
        # this machine has no interface of that name.
        return ipaddress.ip_address(host)
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(str(found[0][4][0]))


def _host(url: str) -> str | None:
    """The host as the request will see it (urllib3's parser, as requests uses), no brackets."""
    try:
        host = parse_url(url).host
    except LocationParseError:
        return None
    return host.strip("[]") if host else None


def check_url(url: str | None, *, hosts: CallbackHosts, field: str) -> None:
    """Refuse (400 naming `field`) a callback URL whose written-out host is never allowed:
    an address outside the allowed ones, or a name that is neither listed nor able to resolve
    into an allowed network. A host made of meta variables is checked when delivered."""
    host = _host(url) if url else None
    if not host or "$" in host or allows_name(hosts, host):
        return
    address = _numeric_address(host)
    if address is None:
        if hosts.anywhere or hosts.networks:
            return  # decided by what it resolves to, when delivered
        reason = f"{host} is not one of the hosts {SETTING} allows"
    elif allows_address(hosts, address):
        return
    else:
        reason = f"{host} is not an address {SETTING} allows"
    raise InvalidInput(f"Callbacks may not be sent there: {reason}", field=field)


def resolve(hosts: CallbackHosts, host: str, port: int | None) -> list[str]:
    """The addresses to connect to for `host`, every one allowed; DestinationRefused naming the
    first that is not (socket.gaierror when the name does not resolve)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(entry[4][0]) for entry in found))
    if allows_name(hosts, host):
        return addresses
    for address in addresses:
        if not allows_address(hosts, ipaddress.ip_address(address)):
            where = address if address == host.strip("[]") else f"{host} resolves to {address}"
            raise DestinationRefused(f"{where}, which is not a destination {SETTING} allows")
    return addresses


def check_before_proxy(hosts: CallbackHosts, url: str) -> None:
    """Through a proxy: refuse what is known to be refused here. A name that does not resolve
    here goes to the proxy when any host may be called, and is refused otherwise."""
    host = _host(url)
    if not host or allows_name(hosts, host):
        return
    try:
        resolve(hosts, host, None)
    except socket.gaierror:
        if not hosts.anywhere:
            raise DestinationRefused(
                f"{host} is not one of the hosts {SETTING} allows, and does not resolve here "
                "to an address it allows"
            ) from None
