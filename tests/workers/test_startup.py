"""When a process runs its callback thread, and the callback settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from taskmanager import create_app, workers
from taskmanager.config import ConfigurationError, load_settings
from taskmanager.models import db
from taskmanager.workers.dispatcher import LocalDispatcher, QueueDispatcher

from ..conftest import make_env


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Apps as a server process builds them (not in testing mode); stopped and closed after."""
    apps = []

    def make(**env: str) -> Any:
        env = {"TASKMAN_AUTO_MIGRATE": "false", "TASKMAN_CALLBACK_WORKER": "true", **env}
        settings = load_settings(make_env(database_url, tmp_path / "instance", **env))
        apps.append(create_app(settings))
        return apps[-1]

    yield make
    for app in apps:
        workers.stop(app)
        with app.app_context():
            db.engine.dispose()


def _dispatcher(app):
    return app.extensions[workers.EXTENSION].dispatcher


def test_thread_starts_with_the_first_request_not_with_the_app(make_app) -> None:
    app = make_app()
    assert _dispatcher(app) is None
    app.test_client().get("/-/healthy").close()
    dispatcher = _dispatcher(app)
    assert isinstance(dispatcher, LocalDispatcher) and dispatcher.running
    app.test_client().get("/-/healthy").close()
    assert _dispatcher(app) is dispatcher
    workers.stop(app)
    assert not dispatcher.running and _dispatcher(app) is None


def test_no_thread_when_disabled_or_in_tests(app, client, make_app) -> None:
    disabled = make_app(TASKMAN_CALLBACK_WORKER="false")
    disabled.test_client().get("/-/healthy").close()
    assert _dispatcher(disabled) is None
    client.get("/-/healthy").close()
    assert app.testing and _dispatcher(app) is None


def test_queue_methods_publish_from_server_processes(make_app) -> None:
    app = make_app(TASKMAN_CALLBACK_METHOD="redis_queue")
    dispatcher = workers.start(app)
    assert isinstance(dispatcher, QueueDispatcher) and dispatcher.poll_interval is None


def test_callback_settings(tmp_path: Path) -> None:
    base = {"TASKMAN_INSTANCE_PATH": str(tmp_path)}
    defaults = load_settings(base)
    assert (defaults.callback_max_attempts, defaults.callback_timeout) == (8, 10.0)
    assert (defaults.callback_backoff, defaults.callback_poll_interval) == (2.0, 5.0)
    assert defaults.callback_worker and defaults.callback_concurrency == 4
    assert defaults.celery_queue == "taskmanager_callbacks"
    assert defaults.callback_retention_days == 30
    custom = load_settings(
        {
            **base,
            "TASKMAN_CALLBACK_WORKER": "false",
            "TASKMAN_CALLBACK_BACKOFF": "0",
            "TASKMAN_CALLBACK_POLL_INTERVAL": "0.5",
            "TASKMAN_CALLBACK_CONCURRENCY": "16",
            "TASKMAN_CELERY_QUEUE": "cb",
            "TASKMAN_CALLBACK_RETENTION_DAYS": "0",
        }
    )
    assert not custom.callback_worker and custom.callback_backoff == 0.0
    assert custom.callback_poll_interval == 0.5 and custom.callback_concurrency == 16
    assert custom.celery_queue == "cb" and custom.callback_retention_days == 0
    for name, value in (
        ("TASKMAN_CALLBACK_MAX_ATTEMPTS", "0"),
        ("TASKMAN_CALLBACK_TIMEOUT", "0"),
        ("TASKMAN_CALLBACK_BACKOFF", "-1"),
        ("TASKMAN_CALLBACK_POLL_INTERVAL", "soon"),
        ("TASKMAN_CALLBACK_CONCURRENCY", "0"),
        ("TASKMAN_CALLBACK_RETENTION_DAYS", "-1"),
        ("TASKMAN_CALLBACK_RETENTION_DAYS", "a month"),
    ):
        with pytest.raises(ConfigurationError, match=name):
            load_settings({**base, name: value})
