"""gunicorn as a library, configured from the GUNICORN_* variables."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from .config import ConfigurationError, Settings

log = logging.getLogger(__name__)

# gunicorn 23+ dropped eventlet; old deployments still name it.
WORKER_CLASS_REPLACEMENTS = {
    "eventlet": "gthread",
    "gevent": "gthread",
    "sync": "sync",
    "gthread": "gthread",
}


def gunicorn_options(
    settings: Settings, *, host: str, port: int | None, workers: int | None
) -> dict[str, Any]:
    requested = (settings.gunicorn_worker_class or "gthread").lower()
    worker_class = WORKER_CLASS_REPLACEMENTS.get(requested)
    if worker_class is None:
        raise ConfigurationError(
            f"GUNICORN_WORKER_CLASS={requested!r} is not supported; use gthread or sync"
        )
    if worker_class != requested:
        log.warning("GUNICORN_WORKER_CLASS=%s is not available; using %s", requested, worker_class)
    options: dict[str, Any] = {
        "bind": f"{host}:{port or settings.port}",
        "workers": workers or settings.gunicorn_workers or 4,
        "worker_class": worker_class,
        "accesslog": "-",
        "errorlog": "-",
    }
    if worker_class == "gthread":
        # The old async workers' connection count maps onto threads per worker.
        options["threads"] = min(settings.gunicorn_worker_connections or 4, 64)
    if settings.gunicorn_timeout:
        options["timeout"] = settings.gunicorn_timeout
    forwarded = os.environ.get("FORWARDED_ALLOW_IPS")
    if forwarded:
        options["forwarded_allow_ips"] = forwarded
    return options


class GunicornServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._factory()
