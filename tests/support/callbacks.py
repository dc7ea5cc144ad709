"""Helpers for callback tests: tasks with callbacks, settings with short timings, processes."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from taskmanager.config import Settings
from taskmanager.models import CallbackDelivery, Task, TaskTemplate, utcnow
from taskmanager.services.callbacks import outbox
from taskmanager.workers import delivery

from .receiver import Received
from .servers import TASKMANAGER, ChildProcess

SECRET = "callback-test-secret"


def quick(settings: Settings, **changes: Any) -> Settings:
    """The test settings with timings short enough for tests (and a signing secret)."""
    values: dict[str, Any] = {
        "callback_secret": SECRET,
        # Generous: a receiver slowed by a loaded machine must not look like a failed attempt.
        "callback_timeout": 5.0,
        "callback_backoff": 0.05,
        "callback_max_attempts": 20,
        "callback_poll_interval": 0.2,
        "callback_concurrency": 4,
    }
    values.update(changes)
    return settings.model_copy(update=values)


def quick_env(**extra: str) -> dict[str, str]:
    """The same timings as environment variables, for server and worker processes."""
    return {
        "TASKMAN_CALLBACK_WORKER": "true",
        "TASKMAN_CALLBACK_SECRET": SECRET,
        "TASKMAN_CALLBACK_TIMEOUT": "5",
        "TASKMAN_CALLBACK_BACKOFF": "0.05",
        "TASKMAN_CALLBACK_MAX_ATTEMPTS": "20",
        "TASKMAN_CALLBACK_POLL_INTERVAL": "0.2",
        **extra,
    }


def refused_port() -> int:
    """A port nothing listens on (for now): connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_tasks(session: Session, count: int, url: str, *, commit_each: bool = True) -> list[Task]:
    """`count` tasks marked done with a callback each, outbox rows written in their transaction
    (one transaction per task, or all in one)."""
    template = session.scalars(select(TaskTemplate).where(TaskTemplate.label == "cb")).first()
    if template is None:
        template = TaskTemplate(label="cb", content="{}")
        session.add(template)
        session.flush()
    tasks = []
    for number in range(count):
        task = Task(
            project="callbacks",
            status="done",
            raw_content="{}",
            raw_callback_url=f"{url}/done/{number}",
            callback_content=json.dumps({"task": number, "result": "ok"}),
            template_id=template.id,
        )
        session.add(task)
        session.flush()
        outbox.enqueue_for_task(session, task=task, rendered_url=task.raw_callback_url)
        if commit_each:
            session.commit()
        tasks.append(task)
    session.commit()
    return tasks


def count(session: Session, status: str | None = None) -> int:
    query = select(func.count(CallbackDelivery.id))
    if status is not None:
        query = query.where(CallbackDelivery.status == status)
    session.rollback()  # a fresh snapshot: other threads and processes write these rows
    return int(session.scalar(query) or 0)


def fresh_row(session: Session, delivery_id: int) -> CallbackDelivery:
    """The delivery row as stored now (other sessions and threads write it)."""
    session.rollback()
    return session.get(CallbackDelivery, delivery_id, populate_existing=True)  # type: ignore[return-value]


def set_row(session: Session, delivery_id: int, **values: Any) -> None:
    session.execute(
        update(CallbackDelivery).where(CallbackDelivery.id == delivery_id).values(**values)
    )
    session.commit()


def age_row(session: Session, delivery_id: int, status: str, days: float) -> None:
    set_row(session, delivery_id, status=status, delivered_at=utcnow() - timedelta(days=days))


def worker_process(env: dict[str, str], cwd: Path, name: str) -> ChildProcess:
    """`taskmanager worker` as a child process."""
    return ChildProcess([TASKMANAGER, "worker"], env=env, cwd=cwd, log_name=name)


def assert_signed(request: Received) -> None:
    """The request carries a valid signature made with the test secret."""
    assert delivery.verify_signature(
        SECRET,
        timestamp=request.headers["x-taskmanager-timestamp"],
        body=request.body,
        header=request.headers["x-taskmanager-signature"],
    )
