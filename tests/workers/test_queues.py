"""TASKMAN_CALLBACK_METHOD=celery (real RabbitMQ) and redis_queue (real Redis), with
`taskmanager worker` processes; each test uses its own queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection
from redis import Redis

from taskmanager.services.callbacks import outbox

from ..conftest import make_env
from ..support import needs
from ..support.callbacks import count, make_tasks, quick, quick_env, worker_process
from ..support.receiver import Receiver, wait_until

CONCURRENCY = 8


@pytest.fixture
def celery_queue(settings) -> Iterator[str]:
    needs.rabbitmq(settings.celery_broker)
    name = f"tm_test_{uuid.uuid4().hex[:12]}"
    yield name
    with Connection(settings.celery_broker, connect_timeout=5) as connection:
        connection.default_channel.queue_delete(name)


@pytest.fixture
def redis_queue(settings) -> Iterator[str]:
    needs.redis(settings.redis_queue_url)
    name = f"tm_test_{uuid.uuid4().hex[:12]}"
    yield name
    with Redis.from_url(settings.redis_queue_url) as connection:
        keys = list(connection.scan_iter(f"rq:*{name}*"))
        if keys:
            connection.delete(*keys)


def test_celery_worker_killed_with_500_in_flight_then_restarted(
    database_url, session, settings, start_worker, celery_queue, tmp_path: Path
) -> None:
    env = make_env(
        database_url,
        tmp_path / "instance",
        **quick_env(
            TASKMAN_CALLBACK_METHOD="celery",
            TASKMAN_CELERY_QUEUE=celery_queue,
            TASKMAN_CALLBACK_CONCURRENCY=str(CONCURRENCY),
            # The killed worker's claims lapse after 2 x timeout + 5 s.
            TASKMAN_CALLBACK_TIMEOUT="2",
        ),
    )
    # This process publishes the ids after its commits, as a server process does.
    start_worker(quick(settings, callback_method="celery", celery_queue=celery_queue))
    workers = []
    with Receiver(delay=0.03) as receiver:
        make_tasks(session, 500, receiver.url, commit_each=False)
        first = worker_process(env, tmp_path, "celery-1")
        workers.append(first)
        try:
            assert receiver.wait_for(lambda got: len(got) >= 100, timeout=60), first.output()
            first.kill()
            at_kill = len(receiver.requests)
            assert at_kill < 500
            second = worker_process(env, tmp_path, "celery-2")
            workers.append(second)
            assert wait_until(lambda: count(session, "delivered") == 500, timeout=120), (
                second.output()
            )
        finally:
            for worker in workers:
                worker.stop()
    keys = {d.idempotency_key for d in outbox.list_deliveries(session, limit=1000)[0]}
    duplicates = receiver.duplicates()
    # Requests in flight at the kill were sent again (at least once); never one claim twice.
    print(f"celery: killed after {at_kill} requests; 500 delivered, {duplicates} duplicates")
    assert set(receiver.delivered()) == keys and count(session, "failed") == 0
    assert receiver.double_sends() == 0


def test_redis_queue_worker_delivers(
    database_url, session, settings, start_worker, redis_queue, tmp_path: Path
) -> None:
    env = make_env(
        database_url,
        tmp_path / "instance",
        **quick_env(TASKMAN_CALLBACK_METHOD="redis_queue", TASKMAN_REDIS_QUEUE_NAME=redis_queue),
    )
    start_worker(quick(settings, callback_method="redis_queue", redis_queue_name=redis_queue))
    with Receiver() as receiver:
        make_tasks(session, 30, receiver.url, commit_each=False)
        worker = worker_process(env, tmp_path, "rq")
        try:
            assert wait_until(lambda: count(session, "delivered") == 30, timeout=60), (
                worker.output()
            )
        finally:
            worker.stop()
    assert len(receiver.delivered()) == 30 and receiver.duplicates() == 0
    assert receiver.double_sends() == 0
