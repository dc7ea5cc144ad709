"""gunicorn as a library, configured from the GUNICORN_* variables."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.config import KNOWN_SETTINGS
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

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
        "worker_class": (
            "taskmanager.serving.DrainingThreadWorker"
            if worker_class == "gthread"
            else worker_class
        ),
        "accesslog": "-",
        "errorlog": "-",
        # gunicorn itself takes the scheme from X-Forwarded-Proto/-Ssl/-Protocol and the prefix
        # from a SCRIPT_NAME header when the peer is in forwarded_allow_ips (by default loopback,
        # or its FORWARDED_ALLOW_IPS variable): any local client could claim HTTPS. Only the
        # application reads forwarded headers, and only with TASKMAN_PROXY_COUNT (ProxyFix).
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        "forwarder_headers": "",
    }
    if worker_class == "gthread":
        # The old async workers' connection count maps onto threads per worker.
        options["threads"] = min(settings.gunicorn_worker_connections or 4, 64)
    if settings.gunicorn_timeout:
        options["timeout"] = settings.gunicorn_timeout
    options["logger_class"] = JsonLogger if settings.log_format == "json" else RedactingLogger
    if settings.prometheus_multiproc_dir:
        options["child_exit"] = _mark_worker_dead
    options["worker_exit"] = _exit_at_once_when_stopped
    if any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS):
        # gunicorn 25.1+ opens a control socket at one path per user ($HOME/.gunicorn/
        # gunicorn.ctl): instances on one host would take it from each other. Not used here.
        options["control_socket_disable"] = True
    return options


def _exit_at_once_when_stopped(_server: Any, worker: Any) -> None:
    """A worker told to stop (SIGTERM, max requests) has answered its requests by now; it
    closes its database connections and ends without tearing down the interpreter, which
    collected garbage for seconds (10 s and more under load) while the master, and a rolling
    restart behind a load balancer, waited for it. A worker that failed keeps Python's exit and
    its exit status (the master tells a boot failure by it)."""
    if not worker.booted or worker.alive:
        return
    from .models import db

    app = worker.wsgi
    with app.app_context():
        db.engine.dispose()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def prepare_metrics_dir(configured: str | None) -> str:
    """A clean folder for prometheus-client's multiprocess files; set before it is imported.

    Files left by a previous run would be counted again, so they are removed at start.
    """
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="taskmanager-metrics-"))
        # Removed when the master exits; workers (forked, they inherit this) must leave it be.
        atexit.register(_remove_in_owner, path, os.getpid())
    for stale in path.glob("*.db"):
        stale.unlink()
    # prometheus-client reads this variable itself, in every worker process.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return str(path)


def _remove_in_owner(path: Path, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def _mark_worker_dead(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class DrainingThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker, but a worker told to stop closes its copy of the listening
    socket as soon as it stops accepting, not after its last request: once every process of the
    instance has, connections are refused, and a load balancer sends them to another instance.
    Kept open, the socket took connections into its queue for the whole drain, and reset them
    at the end (requests the load balancer had already sent, so it could not retry them)."""

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()


class RedactingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, but no credential reaches the access log: credential-like query
    parameters and secret request headers are redacted whatever the access log format."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        from .observability import SECRET_HEADERS, redact_query

        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        raw_uri = str(environ.get("RAW_URI", ""))
        path, sep, query = raw_uri.partition("?")
        if sep:
            atoms["r"] = (
                f"{environ['REQUEST_METHOD']} {path}?{redact_query(query)} "
                f"{environ['SERVER_PROTOCOL']}"
            )
        atoms["q"] = redact_query(str(atoms.get("q") or ""))
        for header in SECRET_HEADERS:
            if f"{{{header}}}i" in atoms:
                atoms[f"{{{header}}}i"] = "[redacted]"
        return atoms


class JsonLogger(RedactingLogger):
    """gunicorn's error and access logs as one JSON object per line (TASKMAN_LOG_FORMAT=json)."""

    def setup(self, cfg: Any) -> None:
        from .observability import JsonFormatter

        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(JsonFormatter())


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
