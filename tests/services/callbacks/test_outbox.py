"""The outbox rules: enqueueing in the caller's transaction, claims, retries, retention."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from taskmanager import workers
from taskmanager.models import TaskGroup, db, utcnow
from taskmanager.services.callbacks import outbox
from taskmanager.services.callbacks.policy import Outcome
from taskmanager.services.kit.errors import Conflict, InvalidInput, NotFound
from taskmanager.services.tasks import statistics

from ...support.callbacks import age_row, count, fresh_row, make_tasks, quick, set_row


def test_enqueue_is_part_of_the_callers_transaction(session) -> None:
    make_tasks(session, 1, "http://127.0.0.1:9/cb")
    assert count(session) == 1
    outbox.enqueue(session, url="http://127.0.0.1:9/x", body="{}")
    session.rollback()
    assert count(session) == 1
    (delivery,) = outbox.list_deliveries(session)[0]
    assert delivery.status == "pending" and delivery.attempts == 0
    assert delivery.url == "http://127.0.0.1:9/cb/done/0"
    assert len(delivery.idempotency_key) == 32 and delivery.method == "PUT"
    assert delivery.task_id is not None


def test_long_rendered_urls_fit(session) -> None:
    url = "http://127.0.0.1:9/cb?" + "&".join(f"subject{n}=S{n:04d}" for n in range(200))
    assert len(url) > 2000
    delivery = outbox.enqueue(session, url=url, body=None)
    session.commit()
    assert fresh_row(session, delivery.id).url == url


def test_nothing_is_enqueued_without_a_url(session) -> None:
    group = TaskGroup(label="g", callback_content='{"g": 1}')
    session.add(group)
    session.flush()
    assert outbox.enqueue_for_taskgroup(session, taskgroup=group, rendered_url=None) is None
    delivery = outbox.enqueue_for_taskgroup(
        session, taskgroup=group, rendered_url="http://127.0.0.1:9/g"
    )
    session.commit()
    assert delivery is not None and delivery.taskgroup_id == group.id
    assert delivery.body == '{"g": 1}'


def test_a_row_is_claimed_once(session, settings) -> None:
    make_tasks(session, 3, "http://127.0.0.1:9")
    first = outbox.claim_due(session, settings=settings, limit=10)
    assert len(first) == 3
    assert outbox.claim_due(session, settings=settings, limit=10) == []
    assert not outbox.claim(session, delivery_id=first[0], settings=settings)
    row = fresh_row(session, first[0])
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
                while batch := outbox.claim_due(own, settings=settings, limit=5):
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


def test_expired_claims_are_taken_back(session, settings) -> None:
    policy = quick(settings, callback_max_attempts=2)
    make_tasks(session, 2, "http://127.0.0.1:9")
    retried, failed = outbox.claim_due(session, settings=policy, limit=5)
    set_row(session, failed, attempts=2)
    assert outbox.reap_expired(session, settings=policy) == 0  # leases still running
    for delivery_id in (retried, failed):
        set_row(session, delivery_id, claimed_until=utcnow() - timedelta(seconds=1))
    assert outbox.reap_expired(session, settings=policy) == 2
    assert fresh_row(session, retried).status == "pending"
    assert fresh_row(session, failed).status == "failed"
    assert "stopped" in fresh_row(session, failed).last_error
    assert outbox.claim_due(session, settings=policy, limit=5) == [retried]


def test_an_expired_claim_can_be_taken_over_and_the_old_outcome_is_ignored(
    session, settings
) -> None:
    make_tasks(session, 1, "http://127.0.0.1:9")
    (delivery_id,) = outbox.claim_due(session, settings=settings, limit=5)
    stale = fresh_row(session, delivery_id)
    session.expunge(stale)
    set_row(session, delivery_id, claimed_until=utcnow() - timedelta(seconds=1))
    assert outbox.claim(session, delivery_id=delivery_id, settings=settings)
    outcome = Outcome(delivered=True, status_code=200, error=None)
    assert outbox.record(session, delivery=stale, outcome=outcome, settings=settings) == "lapsed"
    row = fresh_row(session, delivery_id)
    assert row.status == "delivering" and row.attempts == 2


def test_retry_only_failed_deliveries(session) -> None:
    make_tasks(session, 2, "http://127.0.0.1:9")
    failed_id, pending_id = (d.id for d in outbox.list_deliveries(session)[0])
    set_row(session, failed_id, status="failed", attempts=8, last_error="HTTP 500")
    delivery = outbox.retry(session, delivery_id=failed_id)
    session.commit()
    assert delivery.status == "pending" and delivery.attempts == 0
    assert delivery.next_attempt_at <= utcnow()
    with pytest.raises(Conflict):
        outbox.retry(session, delivery_id=pending_id)
    with pytest.raises(NotFound):
        outbox.retry(session, delivery_id=10**9)
    with pytest.raises(NotFound):
        outbox.get_or_raise(session, delivery_id="nope")


def test_list_filters_pages_and_counts(session) -> None:
    tasks = make_tasks(session, 5, "http://127.0.0.1:9")
    group = TaskGroup(label="g")
    session.add(group)
    session.flush()
    outbox.enqueue_for_taskgroup(session, taskgroup=group, rendered_url="http://127.0.0.1:9/g")
    session.commit()
    ids = [d.id for d in outbox.list_deliveries(session, limit=100)[0]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 6
    set_row(session, ids[1], status="failed")
    set_row(session, ids[2], status="delivered")

    page, total = outbox.list_deliveries(session, offset=1, limit=2)
    assert total == 6 and [d.id for d in page] == ids[1:3]
    assert outbox.list_deliveries(session, status="failed")[1] == 1
    (only,), total = outbox.list_deliveries(session, task_id=tasks[3].id)
    assert total == 1 and only.task_id == tasks[3].id
    (only,), total = outbox.list_deliveries(session, taskgroup_id=group.id)
    assert total == 1 and only.taskgroup_id == group.id
    with pytest.raises(InvalidInput):
        outbox.list_deliveries(session, status="lost")
    assert statistics.count_callbacks_by_status(session) == {
        "pending": 4,
        "delivering": 0,
        "delivered": 1,
        "failed": 1,
    }


def test_published_ids_are_not_published_again_until_presumed_lost(session, settings) -> None:
    make_tasks(session, 3, "http://127.0.0.1:9")
    published = outbox.mark_published(session, limit=10)
    assert len(published) == 3
    assert outbox.mark_published(session, limit=10) == []
    outbox.unmark_published(session, delivery_ids=published[:1])
    assert outbox.mark_published(session, limit=10) == published[:1]
    set_row(session, published[1], claimed_until=utcnow() - timedelta(seconds=1))
    assert outbox.mark_published(session, limit=10) == [published[1]]
    # A published row is still claimable by whoever receives the message.
    assert sorted(outbox.claim_due(session, settings=settings, limit=10)) == sorted(published)


def test_workers_are_woken_after_commits_that_enqueue(session) -> None:
    calls: list[int] = []

    def listener() -> None:
        calls.append(1)

    outbox.add_commit_listener(listener)
    try:
        outbox.enqueue(session, url="http://127.0.0.1:9/a", body=None)
        session.rollback()
        session.commit()
        assert calls == []
        outbox.enqueue(session, url="http://127.0.0.1:9/a", body=None)
        session.commit()
        assert calls == [1]
        session.commit()
        assert calls == [1]
    finally:
        outbox.remove_commit_listener(listener)


def test_old_delivered_rows_are_purged_in_batches_and_failed_ones_kept(session) -> None:
    make_tasks(session, 7, "http://127.0.0.1:9")
    ids = sorted(d.id for d in outbox.list_deliveries(session)[0])
    old_delivered, recent, old_failed, pending = ids[:4], ids[4], ids[5], ids[6]
    for delivery_id in old_delivered:
        age_row(session, delivery_id, "delivered", days=31)
    age_row(session, recent, "delivered", days=29)
    age_row(session, old_failed, "failed", days=90)
    assert outbox.purge_delivered(session, older_than=timedelta(days=30), batch=3) == 4
    left = {d.id: d.status for d in outbox.list_deliveries(session)[0]}
    assert left == {recent: "delivered", old_failed: "failed", pending: "pending"}
    assert outbox.purge_delivered(session, older_than=timedelta(days=30)) == 0


def test_a_delivery_given_up_when_taken_back_is_logged(session, settings, caplog) -> None:
    policy = quick(settings, callback_max_attempts=1)
    group = TaskGroup(label="g")
    session.add(group)
    session.flush()
    outbox.enqueue_for_taskgroup(session, taskgroup=group, rendered_url="http://127.0.0.1:9/g")
    session.commit()
    (delivery_id,) = outbox.claim_due(session, settings=policy, limit=5)
    set_row(session, delivery_id, claimed_until=utcnow() - timedelta(seconds=1))
    with caplog.at_level("WARNING", logger="taskmanager"):
        assert outbox.reap_expired(session, settings=policy) == 1
    (record,) = [r for r in caplog.records if "failed for good" in r.getMessage()]
    assert f"task group {group.id}" in record.getMessage()
    assert "http://127.0.0.1:9/g" in record.getMessage()
