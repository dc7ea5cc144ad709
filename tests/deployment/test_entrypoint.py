"""The container's entrypoint script, run directly on this machine (no Docker engine here).

It runs against a fresh database of the run's kind (SQLite, or the PostgreSQL / MariaDB server the
run names), configured through the DB_* parts as in docker-compose and Helm.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from alembic.script import ScriptDirectory
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from taskmanager import database

from ..support import databases, needs
from ..support.gitrepo import make_project_repo

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
BIN = Path(sys.executable).parent
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_env(url: str) -> dict[str, str]:
    """The database as the container set-ups give it: in parts, or a URL for SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"SQLALCHEMY_DATABASE_URI": url}
    env = {
        "DB_DRIVER": "postgresql" if parsed.get_backend_name() == "postgresql" else "mariadb",
        "DB_HOST": str(parsed.host),
        "DB_PORT": str(parsed.port or ""),
        "DB_NAME": str(parsed.database),
        "DB_USER": str(parsed.username or ""),
    }
    if parsed.password:
        env["DB_PASS"] = str(parsed.password)
    return env


@pytest.fixture
def entrypoint_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    url = databases.create_database(tmp_path, prefix="tm_entry")
    (tmp_path / "tmp").mkdir()
    repo = make_project_repo(tmp_path / "project-repo")
    env = {
        # Only what a container would have: no developer settings leak in.
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path / "tmp"),
        "LANG": "C.UTF-8",
        **database_env(url),
        "SECRET_KEY": "entrypoint-secret",
        "SECURITY_PASSWORD_SALT": "entrypoint-salt",
        "TASKMAN_ADMIN_USERNAME": "admin",
        "TASKMAN_ADMIN_PASSWORD": "admin",
        "TASKMAN_ADMIN_EMAIL": "admin@example.org",
        "TASKMAN_INSTANCE_PATH": str(tmp_path / "instance"),
        "TASKMANAGER_PORT": str(free_port()),
        "GUNICORN_WORKERS": "2",
        "GUNICORN_WORKER_CLASS": "gthread",
        "GUNICORN_TIMEOUT": "60",
        "TASKMAN_LOG_FORMAT": "json",
        "TASKMAN_DB_WAIT_TIMEOUT": "30",
        "PROJECT_REPO": str(repo),
        "PROJECT_BRANCH": "study",
    }
    yield env
    databases.drop_database(url)


class Started:
    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.log_path = cwd / f"entrypoint-{args[0] if args else 'server'}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            ["sh", str(ENTRYPOINT), *args],
            env=env,
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()
        return self.process.returncode


def wait_until_ready(started: Started, base: str, check: str = "/-/ready") -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if started.process.poll() is not None:
            pytest.fail(f"entrypoint exited with {started.process.returncode}:\n{started.output()}")
        try:
            with requests.get(f"{base}{check}", timeout=5) as response:
                if response.status_code == 200:
                    return
        except requests.RequestException:
            # Refused while gunicorn binds, or slow while its workers import on a busy machine.
            pass
        time.sleep(0.5)
    pytest.fail(f"no 200 from {check} after {START_TIMEOUT:.0f} s:\n{started.output()}")


def metric_total(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_entrypoint_starts_a_ready_server(entrypoint_env: dict[str, str], tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{entrypoint_env['TASKMANAGER_PORT']}"
    started = Started([], entrypoint_env, tmp_path)
    try:
        wait_until_ready(started, base)
        auth = ("admin", "admin")
        with requests.get(f"{base}/api/v1/users/admin", auth=auth, timeout=10) as response:
            assert response.status_code == 200, response.text
        # The project repository's config file was loaded at start.
        with requests.get(f"{base}/api/v1/users/reader", auth=auth, timeout=10) as response:
            assert response.status_code == 200, response.text

        # Metrics add up across the gunicorn workers (multiprocess mode).
        for _ in range(20):
            with requests.get(f"{base}/-/healthy", timeout=10) as response:
                assert response.status_code == 200
        with requests.get(f"{base}/-/metrics", timeout=10) as response:
            assert response.status_code == 200
            metrics = response.text
        requests_total = metric_total(
            metrics, "taskmanager_http_requests_total", route="/-/healthy", status="200"
        )
        assert requests_total == 20
        assert "taskmanager_tasks" in metrics
    finally:
        returncode = started.stop()
    output = started.output()
    assert returncode == 0, output
    # The metrics folder the server made for its workers is gone with it.
    assert not list((tmp_path / "tmp").glob("taskmanager-metrics-*"))

    # TASKMAN_LOG_FORMAT=json: the server's own and gunicorn's log lines are JSON objects.
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    loggers = {record["logger"] for record in records}
    assert {"gunicorn.error", "gunicorn.access"} <= loggers, output
    assert any("/-/ready" in record["message"] for record in records)
    assert not re.search(r"^\[\d{4}-\d\d-\d\d .*\] \[\d+\] \[INFO\]", output, re.MULTILINE), output


def test_entrypoint_worker(entrypoint_env: dict[str, str], tmp_path: Path) -> None:
    broker = "amqp://guest:guest@127.0.0.1:5672//"
    needs.rabbitmq(broker)
    env = {**entrypoint_env, "TASKMAN_CALLBACK_METHOD": "celery", "TASKMAN_CELERY_BROKER": broker}
    uri = _uri_from_env(env)
    started = Started(["worker"], env, tmp_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and "ready" not in started.output():
            assert started.process.poll() is None, started.output()
            time.sleep(0.5)
        assert "ready" in started.output(), started.output()
        assert database.current_revision(uri) is not None
    finally:
        started.stop()


def _uri_from_env(env: dict[str, str]) -> str:
    from taskmanager.config import load_settings

    return load_settings(dict(env)).database_uri


def test_entrypoint_runs_other_commands(entrypoint_env: dict[str, str], tmp_path: Path) -> Any:
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "taskmanager", "db", "current"],
        env=entrypoint_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "empty" in result.stdout  # ran as given: nothing was migrated first


def test_entrypoint_server_leaves_migrating_to_the_migrate_command(
    entrypoint_env: dict[str, str], tmp_path: Path
) -> None:
    """The Helm chart's way: pods start with TASKMAN_AUTO_MIGRATE=false, a Job runs `migrate`."""
    env = {**entrypoint_env, "TASKMAN_AUTO_MIGRATE": "False"}
    uri = _uri_from_env(env)
    base = f"http://127.0.0.1:{env['TASKMANAGER_PORT']}"
    started = Started([], env, tmp_path)
    try:
        wait_until_ready(started, base, check="/-/healthy")
        # Alive, but not ready on a database nobody has migrated, and the server did not migrate.
        with requests.get(f"{base}/-/ready", timeout=10) as response:
            assert response.status_code == 503, response.text
        assert database.current_revision(uri) is None
        assert "not migrating" in started.output()

        job = subprocess.run(
            ["sh", str(ENTRYPOINT), "migrate"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )
        assert job.returncode == 0, job.stderr
        head = ScriptDirectory.from_config(database.alembic_config()).get_current_head()
        assert database.current_revision(uri) == head
        wait_until_ready(started, base)
        auth = ("admin", "admin")
        # Onboarding made the admin account and loaded the project repository's config.
        with requests.get(f"{base}/api/v1/users/reader", auth=auth, timeout=10) as response:
            assert response.status_code == 200, response.text
    finally:
        returncode = started.stop()
    assert returncode == 0, started.output()
