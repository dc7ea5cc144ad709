"""`taskmanager add-task --dry-run`: the files checked, then the server asked where each task
would go (nothing stored)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from requests.auth import HTTPBasicAuth

from taskmanager.cli.backends import HttpBackend
from taskmanager.cli.client import ApiClient

from .conftest import Cli, ok, unique
from .test_tasks import count, write_tasks, write_template

DRY = "nothing uploaded (dry run)"


@pytest.fixture
def template(cli: Cli, tmp_path: Path) -> str:
    label = unique("tpl")
    ok(cli.run("add-template", str(write_template(tmp_path, label))))
    return label


def _group(cli: Cli, tmp_path: Path) -> str:
    group = unique("readers")
    path = tmp_path / "group.yaml"
    path.write_text(f"groups:\n  - groupname: {group}\n    members: [admin]\n")
    ok(cli.run("config", str(path)))
    return group


@pytest.mark.parametrize("database", [False, True], ids=["http", "database"])
def test_a_dry_run_lists_where_each_task_would_go(
    cli: Cli, template: str, tmp_path: Path, database: bool
) -> None:
    paths = write_tasks(tmp_path / "tasks", template, 3)
    group = _group(cli, tmp_path)
    project = unique("dry")
    args = ("add-task", str(tmp_path / "tasks"), "-p", project, "-u", "admin", "-g", group)
    result = ok(cli.run(*args, "--dry-run", database=database))
    lines = result.output.splitlines()
    assert lines[0] == f"3 task files are valid; {DRY}."
    assert lines[1:4] == [f"{path}: queued, to admin, group {group}; effort 1" for path in paths]
    assert lines[4:] == ["Per user:", "  admin: 3 tasks, effort 3"]
    assert count(cli, project) == 0


def test_many_tasks_are_summed_up_batch_by_batch(cli: Cli, template: str, tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks", template, 60)
    group = _group(cli, tmp_path)
    project = unique("dry-many")
    args = ("add-task", str(tmp_path / "tasks"), "-p", project, "-d", group, "--batch-size", "25")
    result = ok(cli.run(*args, "--dry-run"))
    assert result.output.splitlines() == [
        f"60 task files are valid; {DRY}.",
        "60 tasks (60 queued): 60 to users, 0 to groups.",
        "Per user:",
        "  admin: 60 tasks, effort 60",
        "Each batch of 25 was previewed alone: in an upload, automatic assignment also counts "
        "the tasks of the batches before.",
    ]
    assert count(cli, project) == 0


def test_a_dry_run_reports_what_the_server_would_refuse(
    cli: Cli, template: str, tmp_path: Path
) -> None:
    paths = write_tasks(tmp_path / "tasks", template, 2)
    project = unique("dry-refused")
    nobody = unique("nobody")
    result = cli.run("add-task", str(tmp_path / "tasks"), "-p", project, "-u", nobody, "--dry-run")
    assert result.exit_code == 3, result.output
    assert f"{paths[0]}: users: User {nobody!r} does not exist" in result.stderr
    assert f"{paths[1]}: users: User {nobody!r} does not exist" in result.stderr
    assert count(cli, project) == 0


class _OldServer(ThreadingHTTPServer):
    """A server from before dry runs: it knows no policy route and creates whatever is sent."""

    daemon_threads = True
    posted: list[str]


class _OldHandler(BaseHTTPRequestHandler):
    server: _OldServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(404, {"message": "Not Found"})

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posted.append(self.path)
        self._answer(201, {"tasks": []})

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def old_server() -> Iterator[_OldServer]:
    server = _OldServer(("127.0.0.1", 0), _OldHandler)
    server.posted = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_a_server_without_dry_runs_is_not_sent_the_tasks(old_server: _OldServer) -> None:
    url = f"http://127.0.0.1:{old_server.server_address[1]}"
    backend = HttpBackend(ApiClient(url, HTTPBasicAuth("admin", "admin"), "admin", timeout=10))
    try:
        assert backend.preview_tasks([{"project": "p", "template": "t", "content": {}}]) is None
        assert backend.preview_tasks([{"project": "p", "template": "t", "content": {}}]) is None
    finally:
        backend.close()
    assert old_server.posted == []
