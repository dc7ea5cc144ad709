"""`taskmanager export`: CSV and JSON, filtered, page by page."""

import csv
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from .conftest import ADMIN, Cli, ok, unique
from .test_tasks import template, write_tasks  # noqa: F401 - fixture

COLUMNS = [
    "id", "project", "template", "status", "users", "groups", "lock",
    "create_time", "update_time", "tags", "tracking_id",
]  # fmt: skip


def test_export_csv_and_json(cli: Cli, template: str, tmp_path: Path) -> None:  # noqa: F811
    write_tasks(tmp_path / "tasks", template, 5)
    project = unique("export")
    ok(cli.run("add-task", str(tmp_path / "tasks"), "-p", project, "-u", "admin", "-t", "x,y"))
    ids = [row[0] for row in cli.rows("SELECT id FROM tasks WHERE project = :p ORDER BY id",
                                      p=project)]  # fmt: skip
    with requests.put(f"{cli.url}/api/v1/tasks/{ids[1]}/lock", auth=ADMIN, timeout=10) as locked:
        assert locked.status_code == 200, locked.text

    result = ok(cli.run("export", "--project", project, "--page-size", "2"))
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == COLUMNS
    assert [int(row["id"]) for row in rows] == ids
    first = rows[0]
    assert (first["project"], first["template"], first["status"]) == (project, template, "queued")
    assert (first["users"], first["groups"], first["tags"]) == ("admin", "", "x;y")
    assert first["tracking_id"] == "unassigned" and first["create_time"]
    assert [row["lock"] for row in rows] == ["", "admin", "", "", ""]
    assert "Exported 5 tasks." in result.stderr

    output = tmp_path / "tasks.json"
    ok(cli.run("export", "--project", project, "--tag", "y", "-f", "json", "-o", str(output)))
    exported = json.loads(output.read_text())
    assert [task["id"] for task in exported] == ids
    assert exported[1]["lock"] == "admin" and exported[1]["tags"] == ["x", "y"]
    assert list(exported[0]) == COLUMNS

    empty = ok(cli.run("export", "--project", unique("none"), "-f", "json"))
    assert json.loads(empty.stdout) == []


def test_export_filters_by_assignee_and_refuses_the_ambiguous_user(
    cli: Cli,
    template: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    write_tasks(tmp_path / "tasks", template, 2)
    project = unique("assignee")
    other = unique("assignee")
    ok(cli.run("add-user", "-u", other, "-p", "long-enough-pw", "-n", "Other", "-e",
               f"{other}@example.org", "-f"))  # fmt: skip
    tasks = tmp_path / "tasks"
    ok(cli.run("add-task", str(tasks / "task-0000.json"), "-p", project, "-u", "admin"))
    ok(cli.run("add-task", str(tasks / "task-0001.json"), "-p", project, "-u", other))

    mine = ok(cli.run("export", "--project", project, "--assignee", other, "-f", "json"))
    assert [task["users"] for task in json.loads(mine.stdout)] == [[other]]
    assert "Exported 1 task." in mine.stderr

    ambiguous = cli.run("export", "--project", project, "--user", "admin")
    assert ambiguous.exit_code == 2
    assert "--assignee filters the tasks by user, --auth-user logs in" in ambiguous.output


class _Proxy(ThreadingHTTPServer):
    """Passes GETs on to the test server and records their paths; as an `old` server (before
    the export route) it answers 404 to /tasks/export, as such a server does."""

    daemon_threads = True
    target: str
    old: bool
    paths: list[str]


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _Proxy

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.paths.append(urlsplit(self.path).path)
        if self.server.old and urlsplit(self.path).path == "/api/v1/tasks/export":
            status, body, kind = 404, b'{"message": "Task not found"}', "application/json"
        else:
            headers = {"Authorization": self.headers["Authorization"]}
            with requests.get(self.server.target + self.path, headers=headers, timeout=30) as got:
                status, body = got.status_code, got.content
                kind = got.headers["Content-Type"]
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(params=[False, True], ids=["new-server", "old-server"])
def proxy(cli: Cli, request: pytest.FixtureRequest) -> Iterator[_Proxy]:
    server = _Proxy(("127.0.0.1", 0), _ProxyHandler)
    server.target, server.old, server.paths = cli.url, request.param, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_export_streams_from_a_new_server_and_reads_details_from_an_old_one(
    cli: Cli,
    template: str,  # noqa: F811
    tmp_path: Path,
    proxy: _Proxy,
) -> None:
    write_tasks(tmp_path / "tasks", template, 3)
    project = unique("proxied")
    ok(cli.run("add-task", str(tmp_path / "tasks"), "-p", project, "-u", "admin", "-t", "x"))
    direct = ok(cli.run("export", "--project", project, "-f", "json"))
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    proxied = ok(cli.run("export", "--project", project, "-f", "json", url=url))
    assert json.loads(proxied.stdout) == json.loads(direct.stdout)
    assert len(json.loads(direct.stdout)) == 3 and "Exported 3 tasks." in proxied.stderr
    details = [p for p in proxy.paths if p.startswith("/api/v1/tasks/") and p[-1].isdigit()]
    # A new server streams the rows; an old one is asked for each task's detail.
    assert "/api/v1/tasks/export" in proxy.paths
    assert len(details) == (3 if proxy.old else 0)
