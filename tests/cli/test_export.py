"""`taskmanager export`: CSV and JSON, filtered, page by page."""

import csv
import io
import json
from pathlib import Path

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
