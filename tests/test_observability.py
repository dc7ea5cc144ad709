"""Metrics at /-/metrics, JSON log lines, Sentry reports."""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from taskmanager.models import CallbackDelivery, Task, TaskTemplate
from taskmanager.observability import JsonFormatter

from .conftest import basic_auth


def samples(client: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/-/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_method_and_status(client: Any) -> None:
    route = "/api/v1/users/<user_id>"
    before = samples(client)
    assert (
        client.get("/api/v1/users/admin", headers=basic_auth("admin", "admin")).status_code == 200
    )
    assert client.get("/api/v1/users/admin").status_code == 401
    after = samples(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    labels = {"route": route, "method": "GET"}
    assert delta("taskmanager_http_requests_total", **labels, status="200") == 1
    assert delta("taskmanager_http_requests_total", **labels, status="401") == 1
    assert delta("taskmanager_http_request_duration_seconds_count", **labels) == 2
    assert delta("taskmanager_http_request_duration_seconds_bucket", **labels, le="+Inf") == 2
    # Paths that match no route share one series instead of making one each.
    client.get("/no/such/path/12345")
    assert (
        value(
            samples(client),
            "taskmanager_http_requests_total",
            route="unmatched",
            method="GET",
            status="404",
        )
        >= 1
    )


def test_tasks_and_callbacks_are_counted_from_the_database(client: Any, session: Any) -> None:
    template = TaskTemplate(label="metrics", content="{}")
    session.add(template)
    session.flush()
    for status in ("queued", "queued", "done"):
        session.add(Task(project="p", status=status, raw_content="{}", template_id=template.id))
    for index, status in enumerate(("pending", "failed", "failed")):
        session.add(CallbackDelivery(idempotency_key=f"k{index}", url="http://x/", status=status))
    session.commit()

    found = samples(client)
    assert value(found, "taskmanager_tasks", status="queued") == 2
    assert value(found, "taskmanager_tasks", status="done") == 1
    assert value(found, "taskmanager_callback_deliveries", state="pending") == 1
    assert value(found, "taskmanager_callback_deliveries", state="failed") == 2


def test_json_formatter_writes_one_object_per_record() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.getLogger("taskmanager.test").makeRecord(
            "taskmanager.test",
            logging.ERROR,
            __file__,
            1,
            "task %s failed",
            (7,),
            sys.exc_info(),
            extra={"task_id": 7},
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "taskmanager.test"
    assert entry["message"] == "task 7 failed"
    assert entry["task_id"] == 7
    assert "ValueError: broken" in entry["exception"]


class _SentryIngest(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).received.append(self.path.encode() + b" " + body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_errors_are_reported_to_sentry_when_a_dsn_is_set(tmp_path: Path) -> None:
    """A real Sentry SDK sending to a local HTTP server standing in for Sentry."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SentryIngest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    script = textwrap.dedent(
        f"""
        import sentry_sdk
        from taskmanager import create_app
        from taskmanager.config import load_settings

        settings = load_settings({{
            "TASKMAN_INSTANCE_PATH": {str(tmp_path)!r},
            "SENTRY_DSN": "http://publickey@127.0.0.1:{server.server_port}/42",
        }})
        app = create_app(settings)

        @app.get("/boom")
        def boom():
            raise RuntimeError("deliberate failure for sentry")

        response = app.test_client().get("/boom")
        assert response.status_code == 500, response.status_code
        sentry_sdk.flush(timeout=10)
        """
    )
    try:
        result = _run_python(script, tmp_path)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert result.returncode == 0, result.stderr
    reports = b"".join(_SentryIngest.received)
    assert b"/api/42/envelope/" in reports
    assert b"deliberate failure for sentry" in reports


def test_request_headers_are_logged_on_request_without_credentials(tmp_path: Path) -> None:
    """TASKMAN_LOG_REQUEST_HEADERS logs each request's headers, credentials redacted."""
    script = textwrap.dedent(
        f"""
        from taskmanager import create_app
        from taskmanager.config import load_settings

        for switch in ("false", "true"):
            settings = load_settings({{
                "TASKMAN_INSTANCE_PATH": {str(tmp_path)!r},
                "TASKMAN_LOG_REQUEST_HEADERS": switch,
            }})
            client = create_app(settings).test_client()
            response = client.get(
                "/-/healthy?probe=" + switch,
                headers={{
                    "Authorization": "Basic c2VjcmV0LXVzZXI6aHVudGVyMg==",
                    "Cookie": "session=very-secret-cookie",
                    "X-Client": "viewr-3.1",
                }},
            )
            assert response.status_code == 200, response.status_code
        """
    )
    result = _run_python(script, tmp_path)
    assert result.returncode == 0, result.stderr
    logged = [line for line in result.stderr.splitlines() if "request GET /-/healthy" in line]
    assert len(logged) == 1, result.stderr  # only while the switch is on
    assert "/-/healthy?probe=true" in logged[0]
    assert "viewr-3.1" in logged[0]
    assert "[redacted]" in logged[0]
    assert "c2VjcmV0LXVzZXI6aHVudGVyMg" not in result.stderr
    assert "very-secret-cookie" not in result.stderr


def _run_python(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The script in a fresh interpreter (its own logging set-up and environment)."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
