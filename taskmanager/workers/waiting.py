"""Checking the `wait_for` URLs of waiting tasks, in the callback workers (`services.tasks.waiting`
holds the rules; this is the HTTP side and the scheduling inside a dispatcher thread).

A check is one GET, without redirects, through the callback connection (`workers.http`: only
where TASKMAN_CALLBACK_ALLOWED_HOSTS allows, addresses checked at connection time), within
TASKMAN_CALLBACK_TIMEOUT. The only credentials it sends are the ones configured for it: the
TASKMAN_WAIT_FOR_NETRC entry for the URL's host (by name; a `default` entry is not used, as any
task creator chooses the host), else TASKMAN_WAIT_FOR_TOKEN to the TASKMAN_WAIT_FOR_TOKEN_HOSTS.
requests' own habit of reading ~/.netrc (or $NETRC) is switched off.
"""

from __future__ import annotations

import logging
import netrc
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

import requests
from flask import Flask
from requests.utils import get_environ_proxies
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from ..config import Settings
from ..models import utcnow
from ..services.callbacks.destinations import DestinationRefused
from ..services.kit import transactions
from ..services.tasks import waiting
from ..services.tasks.waiting import Answer, Backoff
from . import http
from .delivery import user_agent

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]
# Characters of a non-2xx answer kept to say why the task still waits.
EXCERPT = 120
# A claimed check that has not been recorded after its timeout and this margin is due again.
LEASE_MARGIN = timedelta(seconds=30)


# --- one check -------------------------------------------------------------------------------


def _host(url: str) -> str:
    try:
        return (parse_url(url).host or "").lower().strip("[]").rstrip(".")
    except LocationParseError:
        return ""


def _listed(host: str, names: tuple[str, ...]) -> bool:
    return any(
        host == name or (name.startswith("*.") and host.endswith(name[1:])) for name in names
    )


def authorization(url: str, settings: Settings) -> tuple[str, str] | str | None:
    """The credentials a check of `url` sends: (login, password) from the netrc file's entry
    for its host, else the bearer token when its host may have it, else none."""
    host = _host(url)
    if settings.wait_for_netrc is not None and host:
        # Read at every check: the file may be replaced while the server runs.
        entries = netrc.netrc(os.fspath(settings.wait_for_netrc)).hosts
        if host in entries:
            login, _account, password = entries[host]
            return login, password or ""
    token = settings.wait_for_token
    # Only to the hosts listed: whoever creates a task chooses its URL.
    if token and _listed(host, settings.wait_for_token_hosts):
        return token
    return None


def _ca_bundle() -> str | bool:
    """The CA bundle requests would pick from the environment (with trust_env off it does not)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def check(url: str, settings: Settings) -> Answer:
    """GET `url` once: its status code, or why there was none."""
    headers = {"User-Agent": user_agent(), "Accept": "*/*"}
    try:
        credentials = authorization(url, settings)
    except (OSError, netrc.NetrcParseError) as exc:
        return Answer(None, f"TASKMAN_WAIT_FOR_NETRC could not be read: {exc}")
    auth = credentials if isinstance(credentials, tuple) else None
    if isinstance(credentials, str):
        headers["Authorization"] = f"Bearer {credentials}"
    try:
        with http.session(settings.callback_allowed_hosts) as checked:
            # Nothing from the environment but proxies and CA bundle: no ~/.netrc logins.
            checked.trust_env = False
            with checked.get(
                url,
                headers=headers,
                auth=auth,
                timeout=settings.callback_timeout,
                allow_redirects=False,
                stream=True,
                proxies=get_environ_proxies(url),
                verify=_ca_bundle(),
            ) as response:
                code = response.status_code
                if 200 <= code < 300:
                    return Answer(code)
                raw = response.raw.read(EXCERPT, decode_content=True) or b""
                return Answer(code, excerpt=raw.decode("utf-8", "replace").strip())
    except DestinationRefused as exc:
        return Answer(None, f"refused: {exc}")
    except (requests.RequestException, ValueError) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}")


# --- in a dispatcher thread --------------------------------------------------------------------


class WaitChecks:
    """The checks one callback thread runs: at each tick it claims the due ones (as many as it
    has room for) and makes them from a small pool, so a slow data server never holds up
    callback deliveries; `on_done` wakes the thread for the next ones."""

    def __init__(
        self,
        *,
        app: Flask,
        session_factory: SessionFactory,
        settings: Settings,
        on_done: Callable[[], None],
        look_every: float,
    ) -> None:
        self.app = app
        self.session_factory = session_factory
        self.settings = settings
        self.backoff = Backoff(settings.wait_for_interval, settings.wait_for_max_interval)
        self.lease = timedelta(seconds=settings.callback_timeout) + LEASE_MARGIN
        self.concurrency = settings.callback_concurrency
        self.look_every = look_every
        self._on_done = on_done
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight = 0
        self._lock = threading.Lock()
        self._next_look = 0.0  # monotonic
        # Set by a finishing check, cleared by the look it causes. Its own flag: the look that
        # was under way when the check finished must not overwrite it (it read the database
        # before the check recorded its next time; the thread then slept a whole poll interval).
        self._check_finished = False
        self.next_due: datetime | None = None  # the earliest check not due at the last look

    def step(self) -> int:
        """Start the due checks there is room for; how many."""
        if not self._look_now():
            return 0
        self._check_finished = False
        with self._lock:
            free = self.concurrency - self._in_flight
        if free <= 0:
            return 0  # a finishing check wakes the thread
        with self.session_factory() as session:
            claimed = waiting.due_for_check(session, limit=free, lease=self.lease)
            if not claimed:
                self.next_due = waiting.next_check_at(session)
                self._next_look = time.monotonic() + self.look_every
        for due in claimed:
            with self._lock:
                self._in_flight += 1
            try:
                future = self._executor().submit(self._check, due)
            except RuntimeError:
                # The process is exiting and its pools are shut; the claims lapse.
                return 0
            future.add_done_callback(self._checked)
        return len(claimed)

    def _look_now(self) -> bool:
        """At most one look per `look_every`, unless a check known to be waiting fell due or a
        check finished (there may be more due)."""
        if self._check_finished or time.monotonic() >= self._next_look:
            return True
        return self.next_due is not None and self.next_due <= utcnow()

    def idle_timeout(self, longest: float | None) -> float | None:
        """How long the thread may sleep without missing a check that falls due (with every
        slot taken, until a check finishes: that wakes it)."""
        with self._lock:
            full = self._in_flight >= self.concurrency
        if self._check_finished and not full:
            # A check finished since the last look (its wake-up may have come while the thread
            # was busy): look again now rather than sleep on a stale next_due.
            return 0.01
        if self.next_due is None or full:
            return longest
        until = max((self.next_due - utcnow()).total_seconds(), 0.01)
        return until if longest is None else min(until, longest)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.concurrency, thread_name_prefix="wait-for-check"
            )
        return self._pool

    def _check(self, due: waiting.DueCheck) -> str:
        answer = check(due.url, self.settings)
        for attempt in range(1, transactions.ATTEMPTS + 1):
            try:
                outcome = self._record(due, answer)
                break
            except DBAPIError as error:
                # A deadlock with a claim or an edit of the task: recorded again, not lost until
                # the check's lease lapses (a whole callback timeout later).
                if attempt == transactions.ATTEMPTS or not transactions.is_contention(error):
                    raise
                time.sleep(transactions.backoff(attempt))
        if outcome == "arrived":
            log.info("task %s: its data arrived (%s)", due.task_id, due.url)
        return outcome

    def _record(self, due: waiting.DueCheck, answer: Answer) -> str:
        # Assignment reads the app's configuration (who may sign in).
        with self.app.app_context(), self.session_factory() as session:
            return waiting.record_check(
                session, task_id=due.task_id, answer=answer, backoff=self.backoff, url=due.url
            )

    def _checked(self, future: Future[str]) -> None:
        with self._lock:
            self._in_flight -= 1
        if future.exception() is not None:
            # Unrecorded: the task's claim lapses and it is checked again.
            log.error("wait_for check crashed", exc_info=future.exception())
        self._check_finished = True
        self._on_done()
