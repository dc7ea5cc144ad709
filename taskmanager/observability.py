"""Operations: logs (text or JSON), Sentry error reports, Prometheus metrics at /-/metrics.

Metrics work with several gunicorn worker processes through prometheus-client's multiprocess
mode: `taskmanager serve` points PROMETHEUS_MULTIPROC_DIR at a fresh folder before any worker
starts (or uses the one given), so that /-/metrics adds up every worker's counts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .config import Settings

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "taskmanager_http_requests",
    "HTTP requests answered, by route, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "taskmanager_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and method",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)

# Standard LogRecord attributes; anything else on a record came in through `extra=`.
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = value
        return json.dumps(entry, default=str)


def log_formatter(settings: Settings) -> logging.Formatter:
    if settings.log_format == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")


def configure_logging(settings: Settings) -> None:
    """Send log records to stderr in the configured format, unless logging is set up already."""
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if getattr(handler, "_taskmanager", False)]
    if len(ours) != len(root.handlers):
        return  # a test runner or an embedding program configured logging; leave it alone
    for handler in ours:
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._taskmanager = True  # type: ignore[attr-defined]
    handler.setFormatter(log_formatter(settings))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def sentry_missing_message() -> str:
    """The old how-to installed `raven[flask]`; this server reports through sentry-sdk."""
    import importlib.util

    install = "pip install 'task-manager[sentry]' (or pip install 'sentry-sdk[flask]')"
    if importlib.util.find_spec("raven") is not None:
        return (
            "SENTRY_DSN is set, but only raven is installed, the old Sentry client this "
            f"server does not use: no errors are reported until you {install}"
        )
    return f"SENTRY_DSN is set but sentry-sdk is not installed: no errors are reported; {install}"


def init_sentry(settings: Settings) -> bool:
    """Report errors to Sentry when SENTRY_DSN is set and sentry-sdk is installed."""
    if not settings.sentry_dsn:
        return False
    try:
        import sentry_sdk
    except ImportError:
        log.warning(sentry_missing_message())
        return False
    from . import __version__

    sentry_sdk.init(dsn=settings.sentry_dsn, release=f"taskmanager@{__version__}")
    return True


def init_app(app: Flask, settings: Settings) -> None:
    configure_logging(settings)
    init_sentry(settings)
    if settings.metrics_enabled:
        app.before_request(_start_timer)
        app.after_request(_count_request)
    if settings.log_request_headers:
        app.before_request(_log_request_headers)


# Never logged as sent: they carry credentials.
SECRET_HEADERS = frozenset({"authorization", "authentication-token", "cookie", "x-csrf-token"})


# Query parameters whose values are never logged: a credential put in a URL (which the server
# does not accept, but a client may still send) must not end up in a log.
SECRET_PARAMETER_WORDS = ("token", "password", "passwd", "secret", "key", "auth", "session")


def redact_query(query: str) -> str:
    """The query string with the values of credential-like parameters replaced."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        lowered = unquote_plus(name).lower()
        if sep and any(word in lowered for word in SECRET_PARAMETER_WORDS):
            part = f"{name}=[redacted]"
        parts.append(part)
    return "&".join(parts)


def _redacted_path() -> str:
    query = redact_query(request.query_string.decode("latin-1"))
    return f"{request.path}?{query}" if query else request.path


def _log_request_headers() -> None:
    """TASKMAN_LOG_REQUEST_HEADERS (debugging clients and proxies): each request's headers."""
    headers = {
        name: "[redacted]" if name.lower() in SECRET_HEADERS else value
        for name, value in request.headers.items()
    }
    log.info(
        "request %s %s from %s headers %s",
        request.method,
        _redacted_path(),
        request.remote_addr,
        json.dumps(headers, sort_keys=True),
    )


def _start_timer() -> None:
    g.taskman_request_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.pop("taskman_request_started", None)
    # The route pattern, not the path, so that ids do not make a series each.
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    if started is not None:
        LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
    return response


class CountsCollector:
    """Gauges read from the database when scraped: one GROUP BY query per gauge."""

    def __init__(self, counts: dict[str, tuple[str, str, Callable[[], dict[str, int]]]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (documentation, label, query) in self.counts.items():
            family = GaugeMetricFamily(name, documentation, labels=[label])
            for value, count in sorted(query().items()):
                family.add_metric([value], count)
            yield family


def render_metrics(
    settings: Settings, database_counts: dict[str, tuple[str, str, Callable[[], dict[str, int]]]]
) -> Response:
    """The Prometheus text exposition of this process's (or every worker's) metrics."""
    if settings.prometheus_multiproc_dir:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=settings.prometheus_multiproc_dir)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    counts = CollectorRegistry(auto_describe=False)
    counts.register(CountsCollector(database_counts))
    return Response(body + generate_latest(counts), content_type=CONTENT_TYPE_LATEST)
