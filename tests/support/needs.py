"""What a test needs beyond Python, and what happens when it is missing.

On a machine without it, the test is skipped with one line naming what is missing and how to
get it. With TASKMAN_TEST_REQUIRE_SERVICES=1 (.ci/run sets it) each such skip is a failure
instead, so CI proves the real parts.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

REQUIRE_VAR = "TASKMAN_TEST_REQUIRE_SERVICES"
CHROMIUM_VAR = "TASKMAN_TEST_CHROMIUM"
# Where distributions put Chromium or Chrome (Debian, Ubuntu, Fedora, snap, Google's package).
CHROMIUM_PATHS = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/lib64/chromium-browser/chromium-browser",
    "/snap/bin/chromium",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
)


def required() -> bool:
    return os.environ.get(REQUIRE_VAR, "").strip().lower() not in ("", "0", "false", "no")


def missing(what: str, how: str) -> NoReturn:
    """Skip the test (or fail it, when every service is required), saying what and how."""
    message = f"{what} is missing: {how}"
    if required():
        pytest.fail(f"{message} ({REQUIRE_VAR} is set)", pytrace=False)
    pytest.skip(message)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def service(name: str, url: str, default_port: int, how: str) -> None:
    """The service the URL names accepts connections, or the test is skipped (or failed)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    if not _reachable(host, port):
        missing(f"{name} at {host}:{port}", how)


def rabbitmq(url: str) -> None:
    service("RabbitMQ", url, 5672, "start it (`rabbitmq-server -detached`)")


def redis(url: str) -> None:
    service("Redis", url, 6379, "start it (`redis-server --daemonize yes`)")


def program(name: str, how: str) -> str:
    """The program's path on PATH (or in /usr/sbin), or the test is skipped (or failed)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        missing(f"the program `{name}`", how)
    return found


def chromium() -> Path:
    """A Chromium or Chrome to drive (never a downloaded one): $TASKMAN_TEST_CHROMIUM, or where
    distributions install it."""
    named = os.environ.get(CHROMIUM_VAR, "").strip()
    if named:
        if not os.access(named, os.X_OK):
            missing(f"Chromium at {CHROMIUM_VAR}={named}", "name an executable Chromium or Chrome")
        return Path(named)
    for candidate in (*CHROMIUM_PATHS, shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    missing(
        "Chromium (for the browser tests)",
        f"`apt-get install chromium` (Debian), `dnf install chromium` (Fedora), or set "
        f"{CHROMIUM_VAR} to a Chromium or Chrome",
    )
