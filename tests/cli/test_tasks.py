"""`taskmanager add-task`: every file checked first, then bulk upload, over HTTP or directly."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from taskmanager.cli.backends import BatchRejected, Created
from taskmanager.cli.tasks import Summary, TaskFile, task_key, upload

from ..support.servers import serve
from .conftest import Cli, ok, unique

SCANS = ("T1", "FLAIR")


def write_template(directory: Path, label: str, scans: tuple[str, ...] = SCANS) -> Path:
    path = directory / f"{label}.yaml"
    lines = [f"template_name: {label}", "scans:"] + [f"  - label: {scan}" for scan in scans]
    path.write_text("\n".join(lines) + "\n")
    return path


def content(template: str, index: int, scans: tuple[str, ...] = SCANS) -> dict[str, object]:
    return {
        "template": template,
        "name": f"session-{index:04d}",
        "scan_sources": {scan: f"http://xnat.example.org/{index}/{scan}.nii.gz" for scan in scans},
    }


def write_tasks(directory: Path, template: str, count: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = directory / f"task-{index:04d}.json"
        path.write_text(json.dumps(content(template, index)))
        paths.append(path)
    return paths


@pytest.fixture
def template(cli: Cli, tmp_path: Path) -> str:
    label = unique("tpl")
    ok(cli.run("add-template", str(write_template(tmp_path, label))))
    return label


def count(cli: Cli, project: str) -> int:
    return int(cli.scalar("SELECT count(*) FROM tasks WHERE project = :p", p=project))


def test_directory_of_1000_files_uploads_in_one_command(
    cli: Cli, template: str, tmp_path: Path
) -> None:
    write_tasks(tmp_path / "tasks", template, 1000)
    project = unique("bulk")
    result = ok(cli.run("add-task", str(tmp_path / "tasks"), "-p", project, "--batch-size", "300"))
    assert "Tasks created 1000, skipped 0, failed 0" in result.output
    assert count(cli, project) == 1000


def test_one_bad_file_among_1000_uploads_nothing_and_names_file_and_field(
    cli: Cli, template: str, tmp_path: Path
) -> None:
    paths = write_tasks(tmp_path / "tasks", template, 1000)
    bad = paths[617]
    bad.write_text(json.dumps(content(template, 617, scans=("T1", "T2"))))
    project = unique("bulk-bad")
    result = cli.run("add-task", str(tmp_path / "tasks"), "-p", project)
    assert result.exit_code == 3, result.output
    assert (
        f"{bad}: scan_sources: scan names do not match template {template!r}: "
        "missing FLAIR; not in the template: T2" in result.stderr
    )
    assert "1 of 1000 files has problems" in result.stderr
    assert "Nothing uploaded" in result.stderr
    assert count(cli, project) == 0


def test_every_problem_is_reported_then_continue_on_error_uploads_the_rest(
    cli: Cli, template: str, tmp_path: Path
) -> None:
    tmp_path = tmp_path / "tasks"
    tmp_path.mkdir()
    (tmp_path / "good.json").write_text(json.dumps(content(template, 1)))
    (tmp_path / "broken.json").write_text('{"template": "x",\n "name": }')
    (tmp_path / "broken.yaml").write_text("template: x\nname: [a\nother: 1\n")
    (tmp_path / "no-template.yaml").write_text("name: a\n")
    (tmp_path / "unknown.json").write_text(json.dumps(content("no-such-template", 2)))
    project = unique("mixed")
    args = ("add-task", str(tmp_path / "*.json"), str(tmp_path / "*.yaml"), "-p", project)

    result = cli.run(*args)
    assert result.exit_code == 3, result.output
    errors = result.stderr
    assert f"{tmp_path / 'broken.json'}:2: invalid JSON" in errors
    assert f"{tmp_path / 'broken.yaml'}:3: invalid YAML" in errors
    assert f"{tmp_path / 'no-template.yaml'}: template: required" in errors
    assert (
        f"{tmp_path / 'unknown.json'}: template: template 'no-such-template' does not exist"
        in errors
    )
    assert str(tmp_path / "good.json") not in errors
    assert count(cli, project) == 0

    result = cli.run(*args, "--continue-on-error")
    assert result.exit_code == 3, result.output
    assert "Tasks created 1, skipped 4, failed 0" in result.output
    assert count(cli, project) == 1


def test_options_reach_every_task(cli: Cli, template: str, tmp_path: Path) -> None:
    group = unique("grp")
    ok(cli.run("config", str(_group_config(tmp_path, group))))
    write_tasks(tmp_path / "tasks", template, 3)
    project = unique("opts")
    ok(
        cli.run(
            "add-task",
            str(tmp_path / "tasks"),
            "-p",
            project,
            "-u",
            "admin",
            "-g",
            group,
            "-t",
            "alpha,beta",
            "-gen",
            "http://generator.example.org",
            "-an",
            "viewr",
            "-av",
            "5.1",
            "-cu",
            "http://example.org/done",
            "-cc",
            '{"a": 1}',
        )
    )
    rows = cli.rows(
        "SELECT generator_url, application_name, application_version, raw_callback_url, "
        "callback_content FROM tasks WHERE project = :p",
        p=project,
    )
    assert set(rows) == {
        ("http://generator.example.org", "viewr", "5.1", "http://example.org/done", '{"a": 1}')
    }
    assert (
        cli.scalar(
            "SELECT count(*) FROM task_users JOIN tasks ON tasks.id = task_users.task_id "
            "JOIN users ON users.id = task_users.user_id "
            "WHERE tasks.project = :p AND users.username = 'admin'",
            p=project,
        )
        == 3
    )
    assert (
        cli.scalar(
            "SELECT count(*) FROM task_tags JOIN tasks ON tasks.id = task_tags.task_id "
            "WHERE tasks.project = :p",
            p=project,
        )
        == 6
    )
    assert (
        cli.scalar(
            "SELECT count(*) FROM task_groups_assigned JOIN tasks ON tasks.id = "
            "task_groups_assigned.task_id WHERE tasks.project = :p",
            p=project,
        )
        == 3
    )


def _group_config(directory: Path, group: str) -> Path:
    path = directory / "group.yaml"
    path.write_text(f"groups:\n  - groupname: {group}\n    members: [admin]\n")
    return path


def test_database_insert_applies_the_same_checks(cli: Cli, template: str, tmp_path: Path) -> None:
    paths = write_tasks(tmp_path / "tasks", template, 5)
    project = unique("direct")
    paths[2].write_text(json.dumps(content(template, 2, scans=("T1",))))
    result = cli.run("add-task", str(tmp_path / "tasks"), "-p", project, database=True)
    assert result.exit_code == 3, result.output
    assert f"{paths[2]}: scan_sources" in result.stderr
    assert count(cli, project) == 0

    paths[2].write_text(json.dumps(content(template, 2)))
    result = ok(
        cli.run("add-task", str(tmp_path / "tasks"), "-p", project, "-u", "admin", database=True)
    )
    assert "Tasks created 5, skipped 0, failed 0 (the " in result.output
    assert count(cli, project) == 5


def test_dry_run_and_conflicting_options(cli: Cli, template: str, tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks", template, 2)
    project = unique("dry")
    result = ok(cli.run("add-task", str(tmp_path / "tasks"), "-p", project, "--dry-run"))
    assert "2 task files are valid; nothing uploaded (dry run)" in result.output
    assert count(cli, project) == 0
    result = cli.run("add-task", str(tmp_path / "tasks"), "-p", project, "-u", "a", "-d", "g")
    assert result.exit_code == 2
    assert "cannot be combined" in result.stderr


def test_a_refused_batch_names_file_and_field_and_stops(
    cli: Cli, template: str, tmp_path: Path
) -> None:
    paths = write_tasks(tmp_path / "tasks", template, 3)
    project = unique("refused")
    args = ("add-task", str(tmp_path / "tasks"), "-p", project, "-u", unique("nobody"))
    result = cli.run(*args, "--batch-size", "2")
    assert result.exit_code == 1, result.output
    assert f"{paths[0]}: users: User" in result.stderr
    assert "Tasks created 0, skipped 0, failed 2, not sent 1" in result.output
    assert count(cli, project) == 0


class RefusingBackend:
    """Stands in for a server that refuses the tasks whose content names `refuse`."""

    description = "a stand-in server"

    def __init__(self) -> None:
        self.created: list[str] = []

    def create_tasks(self, bodies: list[dict[str, Any]]) -> Created:
        bad = {i: {"content": ["refused"]} for i, b in enumerate(bodies) if b["content"]["refuse"]}
        if bad:
            raise BatchRejected(f"{len(bad)} tasks are invalid", bad, {})
        self.created += [body["content"]["name"] for body in bodies]
        return Created(len(bodies))


def test_continue_on_error_sends_a_refused_batch_again_without_the_named_tasks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    items = [
        (Path(f"t{i}.json"), {"content": {"name": f"t{i}", "refuse": i in (1, 4)}})
        for i in range(6)
    ]
    backend = RefusingBackend()
    summary = Summary()
    upload(backend, items, batch_size=3, continue_on_error=True, summary=summary)  # type: ignore[arg-type]
    assert backend.created == ["t0", "t2", "t3", "t5"]
    assert (summary.created, summary.failed, summary.not_sent) == (4, 2, 0)
    assert "t1.json: content: refused" in capsys.readouterr().err


RESUME = "To resume, run the same command again: the tasks already created are skipped."


def test_uploading_the_same_1000_files_twice_leaves_1000_tasks(
    cli: Cli, template: str, tmp_path: Path
) -> None:
    write_tasks(tmp_path / "tasks", template, 1000)
    project = unique("twice")
    args = ("add-task", str(tmp_path / "tasks"), "-p", project, "--batch-size", "300")
    assert "Tasks created 1000, skipped 0, failed 0 (" in ok(cli.run(*args)).output
    result = ok(cli.run(*args))
    assert "Tasks created 0, already present 1000, skipped 0, failed 0 (" in result.output
    assert count(cli, project) == 1000
    # Directly on the database, the same rule.
    result = ok(cli.run(*args, database=True))
    assert "Tasks created 0, already present 1000, skipped 0, failed 0 (the " in result.output
    assert count(cli, project) == 1000
    keys = cli.scalar(
        "SELECT count(DISTINCT idempotency_key) FROM tasks WHERE project = :p AND "
        "idempotency_key LIKE 'file:%'",
        p=project,
    )
    assert keys == 1000


def test_allow_duplicates_creates_the_tasks_again(cli: Cli, template: str, tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks", template, 3)
    project = unique("dups")
    args = ("add-task", str(tmp_path / "tasks"), "-p", project)
    ok(cli.run(*args))
    result = ok(cli.run(*args, "--allow-duplicates"))
    assert "Tasks created 3, skipped 0, failed 0" in result.output
    assert count(cli, project) == 6
    assert (
        cli.scalar(
            "SELECT count(*) FROM tasks WHERE project = :p AND idempotency_key IS NULL", p=project
        )
        == 3
    )


def test_a_refused_file_stops_the_upload_and_the_same_command_resumes_it(
    cli: Cli, template: str, tmp_path: Path
) -> None:
    paths = write_tasks(tmp_path / "tasks", template, 1000)
    # Passes the command's checks, but its content is longer than the server stores.
    paths[617].write_text(json.dumps({**content(template, 617), "notes": "x" * 70_000}))
    project = unique("resume")
    args = ("add-task", str(tmp_path / "tasks"), "-p", project, "--batch-size", "100")
    result = cli.run(*args)
    assert result.exit_code == 1, result.output
    assert f"{paths[617]}: content:" in result.stderr
    assert "Tasks created 600, skipped 0, failed 100, not sent 300 (" in result.output
    assert result.stderr.strip().splitlines()[-1] == RESUME
    assert count(cli, project) == 600

    paths[617].write_text(json.dumps(content(template, 617)))
    result = ok(cli.run(*args))
    assert "Tasks created 400, already present 600, skipped 0, failed 0 (" in result.output
    assert count(cli, project) == 1000


def test_an_upload_cut_off_by_a_killed_server_resumes_with_the_same_command(
    cli: Cli, template: str, tmp_path: Path
) -> None:
    write_tasks(tmp_path / "tasks", template, 1000)
    project = unique("killed")
    args = ("add-task", str(tmp_path / "tasks"), "-p", project, "--batch-size", "10")
    results: list[Result] = []
    with serve(cli.env, tmp_path, workers=1) as doomed:
        upload = threading.Thread(target=lambda: results.append(cli.run(*args, url=doomed.url)))
        upload.start()
        deadline = time.monotonic() + 120
        while count(cli, project) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        doomed.kill()
        upload.join(timeout=120)
    (result,) = results
    assert result.exit_code == 4, result.output  # the server cannot be reached
    assert "not sent" in result.output
    assert result.stderr.strip().splitlines()[-1] == RESUME
    before = count(cli, project)
    assert 200 <= before < 1000

    result = ok(cli.run(*args))
    assert f"Tasks created {1000 - before}, already present {before}, skipped 0" in result.output
    assert count(cli, project) == 1000


def test_a_file_with_a_tracking_id_is_keyed_by_it(cli: Cli, template: str, tmp_path: Path) -> None:
    path = tmp_path / "tasks" / "subject.json"
    path.parent.mkdir()
    path.write_text(json.dumps({**content(template, 1), "tracking_id": "S01"}))
    project = unique("tracked")
    args = ("add-task", str(path.parent), "-p", project)
    ok(cli.run(*args))
    assert cli.scalar("SELECT idempotency_key FROM tasks WHERE project = :p", p=project) == (
        f"tracking:{project}/S01"
    )
    # Renamed, the file is still the same task.
    path.rename(path.with_name("renamed.json"))
    assert "already present 1" in ok(cli.run(*args)).output
    # Other content under the same tracking id: refused, naming the key and the file.
    path.with_name("renamed.json").write_text(
        json.dumps({**content(template, 2), "tracking_id": "S01"})
    )
    result = cli.run(*args)
    assert result.exit_code == 1, result.output
    assert (
        f"{path.with_name('renamed.json')}: idempotency_key: Idempotency key "
        f"'tracking:{project}/S01' already names task"
    ) in result.stderr
    assert count(cli, project) == 1


def test_task_keys_come_from_the_file() -> None:
    def key(name: str = "a.json", project: str = "P", **extra: object) -> str:
        return task_key(project, TaskFile(Path("dir") / name, {"template": "t", **extra}, name))

    assert key().startswith("file:") and len(key()) == 5 + 64
    assert key() == key()
    assert len({key(), key("b.json"), key(project="Q"), key(n=1)}) == 4
    assert key(tracking_id="S01") == key("b.json", tracking_id=" S01 ") == "tracking:P/S01"
    assert key(tracking_id=7) == "tracking:P/7"
    assert key(tracking_id="").startswith("file:")
    assert key(tracking_id="x" * 300).startswith("file:")  # too long to be a key
