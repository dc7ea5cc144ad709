"""The dispatcher threads' housekeeping (taking back lapsed claims, purging old rows) and when
they wake for a retry."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

from taskmanager.models import utcnow
from taskmanager.services.callbacks import outbox
from taskmanager.workers.dispatcher import Dispatcher, LocalDispatcher

from ..support.callbacks import age_row, count, make_tasks, quick, set_row
from ..support.receiver import Received, Receiver, wait_until


def test_dispatchers_purge_now_and_then_unless_kept_forever(session, settings) -> None:
    make_tasks(session, 2, "http://127.0.0.1:9")
    first, second = sorted(d.id for d in outbox.list_deliveries(session)[0])
    age_row(session, first, "delivered", days=400)
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
    assert {d.id for d in outbox.list_deliveries(session)[0]} == {second}
    # Not again within the hour: a row aged meanwhile stays until the next purge.
    age_row(session, second, "delivered", days=400)
    yearly.reap_now_and_then(session)
    assert {d.id for d in outbox.list_deliveries(session)[0]} == {second}


def test_the_idle_sleep_ends_when_the_next_retry_falls_due(session, settings) -> None:
    make_tasks(session, 1, "http://127.0.0.1:9")
    (row,) = outbox.list_deliveries(session)[0]
    dispatcher = LocalDispatcher(
        session_factory=lambda: session, settings=quick(settings, callback_poll_interval=5.0)
    )
    try:
        set_row(session, row.id, next_attempt_at=utcnow() + timedelta(seconds=1))
        dispatcher.note_next_retry(session)
        assert 0.5 < dispatcher.idle_timeout() <= 1.0
        set_row(session, row.id, next_attempt_at=utcnow() + timedelta(seconds=60))
        dispatcher.note_next_retry(session)
        assert dispatcher.idle_timeout() == 5.0
        set_row(session, row.id, status="delivered")
        dispatcher.note_next_retry(session)
        assert dispatcher.idle_timeout() == 5.0
    finally:
        dispatcher.stop()
    publisher = Dispatcher(session_factory=lambda: session, settings=settings, poll=False)
    assert publisher.idle_timeout() is None  # in a server process: woken by commits only


def test_retries_keep_the_documented_backoff_not_the_poll_interval(
    session, settings, start_worker
) -> None:
    # docs/callbacks.md: after failed attempt n the next waits TASKMAN_CALLBACK_BACKOFF x 2^(n-1)
    # seconds. A poll interval far longer than those waits must not stretch them.
    backoff, attempts = 0.25, 5
    start_worker(
        quick(
            settings,
            callback_backoff=backoff,
            callback_poll_interval=5.0,
            callback_max_attempts=attempts,
        )
    )
    arrivals: list[float] = []
    with Receiver(status=503) as receiver:
        record = receiver._record

        def timed(request: Received) -> None:
            arrivals.append(time.monotonic())
            record(request)

        receiver._record = timed  # type: ignore[method-assign]
        make_tasks(session, 1, receiver.url)
        assert receiver.wait_for(lambda got: len(got) >= attempts, timeout=30)
    assert wait_until(lambda: count(session, "failed") == 1, timeout=10)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    documented = [backoff * 2 ** (n - 1) for n in range(1, attempts)]  # 0.25, 0.5, 1, 2
    for gap, expected in zip(gaps, documented, strict=True):
        # Never early; late only by an attempt's own time and a loaded machine's scheduling.
        assert expected - 0.02 <= gap <= expected + 0.6, (gaps, documented)
