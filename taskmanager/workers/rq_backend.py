"""TASKMAN_CALLBACK_METHOD=redis_queue: RQ on Redis; jobs carry delivery ids only.

RQ drops a job whose worker dies; the row is then still claimed, its lease lapses, and the
sweeper in `taskmanager worker` publishes it again, so nothing depends on the job surviving.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis import Redis
from rq import Queue, SimpleWorker

from ..config import Settings
from ..services.callbacks import policy
from . import delivery
from .dispatcher import SessionFactory

JOB = "taskmanager.workers.rq_backend.deliver_job"

# Set in the worker process before it starts taking jobs.
_worker_context: dict[str, object] = {}


def deliver_job(delivery_id: int) -> str:
    settings: Settings = _worker_context["settings"]  # type: ignore[assignment]
    session_factory: SessionFactory = _worker_context["session_factory"]  # type: ignore[assignment]
    with session_factory() as session:
        return delivery.deliver(session, delivery_id=int(delivery_id), settings=settings)


def _queue(settings: Settings, connection: Redis) -> Queue:
    return Queue(settings.redis_queue_name, connection=connection)


class RQPublisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.connection = Redis.from_url(settings.redis_queue_url)
        self.queue = _queue(settings, self.connection)

    def publish(self, delivery_ids: Sequence[int]) -> None:
        timeout = int(policy.lease(self.settings).total_seconds()) + 1
        self.queue.enqueue_many(
            [
                Queue.prepare_data(JOB, args=(delivery_id,), timeout=timeout, result_ttl=0)
                for delivery_id in delivery_ids
            ]
        )

    def close(self) -> None:
        self.connection.close()


def run_worker(settings: Settings, session_factory: SessionFactory) -> None:
    """Take jobs in this process, one at a time (no fork: the database pool stays valid)."""
    _worker_context.update(settings=settings, session_factory=session_factory)
    connection = Redis.from_url(settings.redis_queue_url)
    try:
        worker = SimpleWorker([_queue(settings, connection)], connection=connection)
        worker.work(logging_level="INFO")
    finally:
        connection.close()
