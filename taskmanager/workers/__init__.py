"""Callback delivery: a thread in each server process, and the `taskmanager worker` process.

By TASKMAN_CALLBACK_METHOD:
- `local`: each server process runs a `LocalDispatcher` thread that delivers the outbox itself.
- `celery` / `redis_queue`: each server process runs a thread that publishes ids of new
  deliveries to the queue after commits; `taskmanager worker` consumes the queue and sweeps
  (publishes again whatever is due and was not consumed).
Server processes start their thread on their first request (or when `taskmanager run/serve`
starts them), never in tests unless a test calls `start`, and never with TASKMAN_CALLBACK_WORKER
set to false.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from ..config import Settings
from ..services.callbacks import outbox
from .dispatcher import Dispatcher, LocalDispatcher, Publisher, QueueDispatcher, SessionFactory

log = logging.getLogger(__name__)

EXTENSION = "taskman_callbacks"


def session_factory_for(engine: Engine) -> SessionFactory:
    """Sessions for the outbox machinery. On MariaDB/MySQL in READ COMMITTED: the default
    REPEATABLE READ takes gap locks on the index scans of a claim, which deadlocks two claimers
    moving rows between the same index ranges."""
    if engine.dialect.name in ("mysql", "mariadb"):
        engine = engine.execution_options(isolation_level="READ COMMITTED")
    return sessionmaker(bind=engine, expire_on_commit=False)


def make_publisher(settings: Settings) -> Publisher:
    if settings.callback_method == "celery":
        from .celery_backend import CeleryPublisher

        return CeleryPublisher(settings)
    from .rq_backend import RQPublisher

    return RQPublisher(settings)


def make_dispatcher(
    settings: Settings,
    session_factory: SessionFactory,
    *,
    sweep: bool = False,
    app: Flask | None = None,
) -> Dispatcher:
    """The thread for this method: deliver here (local) or publish to the queue. The threads
    that poll (local, and the sweeper of `taskmanager worker`) also check waiting tasks."""
    if settings.callback_method == "local":
        return LocalDispatcher(session_factory=session_factory, settings=settings, app=app)
    return QueueDispatcher(
        session_factory=session_factory,
        settings=settings,
        publisher=make_publisher(settings),
        poll=sweep,
        app=app,
    )


class _AppState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.dispatcher: Dispatcher | None = None


def init_app(app: Flask) -> None:
    """Start the server process's callback thread lazily, on its first request."""
    state = _AppState()
    app.extensions[EXTENSION] = state
    settings: Settings = app.extensions["taskman_settings"]
    if not settings.callback_worker:
        return

    @app.before_request
    def _start_callback_thread() -> None:
        if state.dispatcher is None and not app.testing:
            start(app)


def start(app: Flask, settings: Settings | None = None) -> Dispatcher:
    """Start (once) this process's callback thread for `app`; tests may pass other settings."""
    from ..models import db

    state: _AppState = app.extensions[EXTENSION]
    with state.lock:
        running = state.dispatcher
        if running is not None:
            if settings is not None and running.settings != settings:
                raise RuntimeError("callback delivery already runs for this app, other settings")
            return running
        settings = settings or app.extensions["taskman_settings"]
        with app.app_context():
            engine = db.engine
        dispatcher = make_dispatcher(settings, session_factory_for(engine), app=app)
        outbox.add_commit_listener(dispatcher.wake)
        dispatcher.start()
        state.dispatcher = dispatcher
        log.info("callback delivery (%s) running in this process", settings.callback_method)
        return dispatcher


def stop(app: Flask, timeout: float = 10.0) -> None:
    state: _AppState = app.extensions[EXTENSION]
    with state.lock:
        dispatcher, state.dispatcher = state.dispatcher, None
    if dispatcher is not None:
        outbox.remove_commit_listener(dispatcher.wake)
        dispatcher.stop(timeout)


def run_worker(app: Flask, *, concurrency: int | None = None) -> None:
    """`taskmanager worker`: deliver callbacks in this process until stopped (SIGTERM/SIGINT)."""
    from .. import database
    from ..models import db

    settings: Settings = app.extensions["taskman_settings"]
    with app.app_context():
        engine = db.engine
    database.wait_for_database(engine, timeout=60.0)
    session_factory = session_factory_for(engine)
    concurrency = concurrency or settings.callback_concurrency

    if settings.callback_method == "local":
        local = LocalDispatcher(
            session_factory=session_factory,
            settings=settings.model_copy(update={"callback_concurrency": concurrency}),
            app=app,
        )
        _run_until_signalled(local)
        return

    sweeper = make_dispatcher(settings, session_factory, sweep=True, app=app)
    sweeper.start()
    try:
        if settings.callback_method == "celery":
            from .celery_backend import run_worker as run_celery

            run_celery(settings, session_factory, concurrency=concurrency)
        else:
            from .rq_backend import run_worker as run_rq

            run_rq(settings, session_factory)
    finally:
        sweeper.stop()


def _run_until_signalled(dispatcher: Dispatcher) -> None:
    stopped = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping after the deliveries in flight", signum)
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    dispatcher.start()
    log.info("callback worker (local) running; poll every %ss", dispatcher.poll_interval)
    while not stopped.wait(1.0):
        pass
    dispatcher.stop()
