"""TASKMAN_CALLBACK_METHOD=celery: Celery on RabbitMQ; messages carry delivery ids only.

Messages are acknowledged after the task ran (acks late), so a worker killed mid-task leaves its
messages to the broker to hand out again; the row's claim decides who may send, so a message
handed out twice never sends twice.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

from celery import Celery

from ..config import Settings
from . import delivery
from .dispatcher import SessionFactory

TASK_NAME = "taskmanager.deliver_callback"


def make_celery(settings: Settings) -> Celery:
    """The Celery app, configured from the settings (publishing needs no task registered)."""
    app = Celery(
        "taskmanager",
        broker=settings.celery_broker,
        backend=settings.celery_backend,
        set_as_current=False,
    )
    app.conf.update(
        task_default_queue=settings.celery_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=settings.celery_backend is None,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        # The sweeper publishes again whatever a failed publish left out; do not block on it.
        task_publish_retry=False,
    )
    return app


def register_task(app: Celery, settings: Settings, session_factory: SessionFactory) -> None:
    """The delivery task, in the worker's app only (not shared with other Celery apps)."""

    @app.task(name=TASK_NAME, shared=False)
    def deliver_callback(delivery_id: int) -> str:
        with session_factory() as session:
            return delivery.deliver(session, delivery_id=int(delivery_id), settings=settings)


class CeleryPublisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = make_celery(settings)

    def publish(self, delivery_ids: Sequence[int]) -> None:
        # A connection of our own per batch: Celery's pools keep sockets open past close().
        with self.app.connection_for_write() as connection:
            producer = self.app.amqp.Producer(connection)
            for delivery_id in delivery_ids:
                self.app.send_task(
                    TASK_NAME,
                    args=[delivery_id],
                    queue=self.settings.celery_queue,
                    producer=producer,
                )

    def close(self) -> None:
        self.app.close()


def run_worker(settings: Settings, session_factory: SessionFactory, *, concurrency: int) -> None:
    """Consume the queue in this process (threads: deliveries wait on the network)."""
    app = make_celery(settings)
    register_task(app, settings, session_factory)
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            f"--queues={settings.celery_queue}",
            f"--hostname=taskmanager-{os.getpid()}@{socket.gethostname()}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )
