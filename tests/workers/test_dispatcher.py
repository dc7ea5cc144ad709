"""The dispatcher threads' housekeeping: taking back lapsed claims, purging old rows."""

from __future__ import annotations

from taskmanager.services.callbacks import outbox
from taskmanager.workers.dispatcher import Dispatcher

from ..support.callbacks import age_row, count, make_tasks, quick


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
