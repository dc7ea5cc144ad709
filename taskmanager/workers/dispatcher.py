"""Background threads that move the callback outbox: deliver it here, or publish ids to a queue."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Protocol

from flask import Flask
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import utcnow
from ..services.callbacks import outbox
from . import delivery
from .waiting import WaitChecks

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]
# Ids published to a queue per round trip to the database.
PUBLISH_BATCH = 500
# After an unexpected error (database unreachable), wait at least this long before trying again.
ERROR_PAUSE = 1.0
# Seconds between deletions of old delivered callbacks, per process.
PURGE_INTERVAL = 3600.0
# The shortest sleep before a retry falls due (database and clock may disagree by a little).
MIN_PAUSE = 0.01


class Dispatcher:
    """A daemon thread running `step()` until it finds nothing to do, then sleeping until woken
    (after a commit that enqueued a callback), until the next retry falls due, or until the poll
    interval passes, whichever comes first."""

    name = "callbacks"

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        settings: Settings,
        poll: bool,
        app: Flask | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.poll_interval: float | None = settings.callback_poll_interval if poll else None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_reap = 0.0
        self._last_purge: float | None = None  # first purge at the first look
        self._next_retry: datetime | None = None  # set by `step()` when it found nothing due
        # Threads that poll also check the wait_for URLs of waiting tasks (for the app whose
        # configuration assignment reads).
        self.waits = (
            WaitChecks(
                app=app,
                session_factory=session_factory,
                settings=settings,
                on_done=self.wake,
                look_every=self.poll_interval,
            )
            if self.poll_interval is not None and app is not None
            else None
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.waits is not None:
            self.waits.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def step(self) -> int:
        raise NotImplementedError

    def note_next_retry(self, session: Session) -> None:
        """Remember when the next failed delivery is due again, to wake for it."""
        if self.poll_interval is not None:
            self._next_retry = outbox.next_retry_at(session)

    def idle_timeout(self) -> float | None:
        """How long to sleep when nothing is due: the poll interval, or less when a retry falls
        due sooner, so retries keep the documented backoff instead of the poll's rhythm."""
        timeout = self.poll_interval
        if timeout is not None and self._next_retry is not None:
            until = (self._next_retry - utcnow()).total_seconds()
            timeout = min(timeout, max(until, MIN_PAUSE))
        return timeout if self.waits is None else self.waits.idle_timeout(timeout)

    def reap_now_and_then(self, session: Session) -> None:
        """Take back rows whose worker died mid-attempt, at most once per poll interval; delete
        old delivered rows (TASKMAN_CALLBACK_RETENTION_DAYS), at most once per PURGE_INTERVAL."""
        interval = self.settings.callback_poll_interval
        if time.monotonic() - self._last_reap >= interval:
            self._last_reap = time.monotonic()
            reaped = outbox.reap_expired(session, settings=self.settings)
            if reaped:
                log.warning("took back %d callback deliveries whose worker stopped", reaped)
        days = self.settings.callback_retention_days
        due = self._last_purge is None or time.monotonic() - self._last_purge >= PURGE_INTERVAL
        if days and due:
            self._last_purge = time.monotonic()
            purged = outbox.purge_delivered(session, older_than=timedelta(days=days))
            if purged:
                log.info("deleted %d callback deliveries delivered over %d days ago", purged, days)

    def _run(self) -> None:
        failing = False
        while not self._stopping.is_set():
            self._wake.clear()
            self._next_retry = None
            try:
                done = self.step() + (self.waits.step() if self.waits is not None else 0)
            except Exception as exc:
                # The whole story once; then one line per try until it works again.
                if failing:
                    log.warning("%s still failing: %s", self.name, exc)
                else:
                    log.exception("%s failed; trying again every poll interval", self.name)
                failing = True
                self._stopping.wait(max(ERROR_PAUSE, self.poll_interval or ERROR_PAUSE))
                continue
            if failing:
                log.info("%s works again", self.name)
                failing = False
            if not done:
                self._wake.wait(self.idle_timeout())


class LocalDispatcher(Dispatcher):
    """TASKMAN_CALLBACK_METHOD=local: claim due deliveries and send them from a thread pool."""

    name = "callbacks-local"

    def __init__(
        self, *, session_factory: SessionFactory, settings: Settings, app: Flask | None = None
    ) -> None:
        super().__init__(session_factory=session_factory, settings=settings, poll=True, app=app)
        self._pool = ThreadPoolExecutor(
            max_workers=settings.callback_concurrency, thread_name_prefix="callback-send"
        )
        self._in_flight = 0
        self._count_lock = threading.Lock()

    def step(self) -> int:
        with self._count_lock:
            free = self.settings.callback_concurrency - self._in_flight
        with self.session_factory() as session:
            self.reap_now_and_then(session)
            if free <= 0:
                return 0  # a finishing send wakes us
            claimed = outbox.claim_due(session, settings=self.settings, limit=free)
            if not claimed:
                self.note_next_retry(session)
        for delivery_id in claimed:
            with self._count_lock:
                self._in_flight += 1
            try:
                future = self._pool.submit(self._send, delivery_id)
            except RuntimeError:
                # The process is exiting and Python has shut the pool down (before it stops
                # daemon threads such as this one). Stop; the rows claimed and not sent go
                # back to pending when their lease lapses.
                log.info("%s stops: the process is exiting", self.name)
                self._stopping.set()
                return 0
            future.add_done_callback(self._sent)
        return len(claimed)

    def _send(self, delivery_id: int) -> str:
        with self.session_factory() as session:
            return delivery.send(session, delivery_id=delivery_id, settings=self.settings)

    def _sent(self, future: Future[str]) -> None:
        with self._count_lock:
            self._in_flight -= 1
        if future.exception() is not None:
            # The row stays claimed; its lease lapses and it is retried.
            log.error("callback delivery crashed", exc_info=future.exception())
        self.wake()

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)


class Publisher(Protocol):
    def publish(self, delivery_ids: Sequence[int]) -> None: ...

    def close(self) -> None: ...


class QueueDispatcher(Dispatcher):
    """TASKMAN_CALLBACK_METHOD=celery/redis_queue: publish the ids of due deliveries.

    In `taskmanager worker` it polls (the sweeper: nothing depends on a message surviving);
    in server processes it runs after commits that enqueued.
    """

    name = "callbacks-publisher"

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        settings: Settings,
        publisher: Publisher,
        poll: bool,
        app: Flask | None = None,
    ) -> None:
        super().__init__(session_factory=session_factory, settings=settings, poll=poll, app=app)
        self.publisher = publisher

    def step(self) -> int:
        with self.session_factory() as session:
            if self.poll_interval is not None:
                self.reap_now_and_then(session)
            ids = outbox.mark_published(
                session,
                limit=PUBLISH_BATCH,
                republish_after=timedelta(seconds=self.settings.callback_republish_after),
            )
            if not ids:
                self.note_next_retry(session)
                return 0
            try:
                self.publisher.publish(ids)
            except Exception:
                outbox.unmark_published(session, delivery_ids=ids)
                raise
        return len(ids)

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        self.publisher.close()
