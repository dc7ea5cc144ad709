"""Clients generated from the served OpenAPI document, with the commands docs/api.md shows: a
Python client (openapi-python-client, no warning at all) that drives a live server through a
task's life, and TypeScript types (openapi-typescript from npm) that compile."""

from __future__ import annotations

import base64
import importlib
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ..conftest import make_env
from ..support import databases, needs
from ..support.servers import serve

DOCS_API = Path(__file__).resolve().parents[2] / "docs" / "api.md"
DOCS_URL = "http://localhost:5000"
BIN = Path(sys.executable).parent
PACKAGE = "taskmanager_api"


def documented_command(program: str) -> list[str]:
    """The command of docs/api.md that starts with `program`, split into words."""
    lines = [line for line in DOCS_API.read_text().splitlines() if line.startswith(program + " ")]
    assert len(lines) == 1, f"docs/api.md should show one `{program}` command"
    return shlex.split(lines[0])


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("openapi-clients")
    with databases.scratch_database(base) as url:
        env = make_env(url, base / "instance")
        with serve(env, base, workers=1) as process:
            yield process.url


@pytest.fixture
def python_client(server: str, tmp_path: Path) -> Iterator[ModuleType]:
    command = documented_command("openapi-python-client")
    assert command[1:3] == ["generate", "--url"] and command[3].startswith(DOCS_URL)
    command[3] = command[3].replace(DOCS_URL, server)
    assert command[command.index("--output-path") + 1] == PACKAGE
    # The generator formats its code with ruff, found on PATH (the test extra installs it).
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    output = run([str(BIN / command[0]), *command[1:], "--fail-on-warning"], tmp_path, env)
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def _operations(group: str, *names: str) -> list[Any]:
    """The generated modules of these operations (one per operationId)."""
    return [importlib.import_module(f"{PACKAGE}.api.{group}.{name}") for name in names]


def test_generated_python_client_drives_a_task_through_its_life(
    server: str, python_client: ModuleType
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    [create_task_template] = _operations("task_templates", "create_task_template")
    create_tasks, list_tasks, get_task, update_task = _operations(
        "tasks", "create_tasks", "list_tasks", "get_task", "update_task"
    )
    lock_task, claim_next_task, get_task_lock = _operations(
        "locks", "lock_task", "claim_next_task", "get_task_lock"
    )
    login = base64.b64encode(b"admin:admin").decode()
    with python_client.AuthenticatedClient(server, token=login, prefix="Basic") as client:
        template = create_task_template.sync(
            client=client,
            body=models.TemplateCreate(
                label="lesions",
                content=models.TemplateCreateContentType0.from_dict({"scans": [{"label": "T1"}]}),
            ),
        )
        assert isinstance(template, models.TemplateOut) and template.label == "lesions"

        def task(subject: str) -> Any:
            return models.TaskIn(
                project="CLIENT",
                template="lesions",
                content=models.TaskInContentType0.from_dict({"subject": subject}),
                users=["admin"],
                tags=["generated"],
            )

        one = create_tasks.sync(client=client, body=task("S01"))
        assert isinstance(one, models.TaskOut) and one.status == "queued"
        many = create_tasks.sync(client=client, body=[task("S02"), task("S03")])
        assert isinstance(many, models.TaskCreatedList) and len(many.tasks) == 2
        ids = [one.id, *(summary.id for summary in many.tasks)]

        page = list_tasks.sync(client=client, project="CLIENT", tag=["generated"])
        assert isinstance(page, models.TaskListOut)
        assert page.total_tasks == 3 and [summary.id for summary in page.tasks] == ids
        assert page.tasks[0].tags[0].name == "generated"

        lock = lock_task.sync(ids[0], client=client, body=models.LockIn())
        assert isinstance(lock, models.LockOut) and lock.username == "admin"
        claimed = claim_next_task.sync(client=client, body=models.ClaimIn(project="CLIENT"))
        assert isinstance(claimed, models.ClaimOut) and claimed.id == ids[1]  # ids[0] is locked

        done = update_task.sync(claimed.id, client=client, body=models.TaskUpdate(status="done"))
        assert isinstance(done, models.TaskOut) and done.status == "done" and done.done_by
        assert get_task_lock.sync(claimed.id, client=client).lock is None

        missing = get_task.sync("999999", client=client)
        assert isinstance(missing, models.HTTPError) and missing.message

    with python_client.Client(server) as anonymous:
        refused = list_tasks.sync_detailed(client=anonymous)
    assert refused.status_code == 401 and isinstance(refused.parsed, models.HTTPError)


@pytest.fixture(scope="module")
def openapi_typescript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages docs/api.md installs, from the npm registry, in a folder of their own."""
    needs.program("node", "apt-get install nodejs npm (for the TypeScript types)")
    needs.program("npm", "apt-get install npm (for the TypeScript types)")
    needs.service("The npm registry", "https://registry.npmjs.org", 443, "a network to it")
    command = documented_command("npm")
    assert command[:3] == ["npm", "install", "--save-dev"]
    folder = tmp_path_factory.mktemp("openapi-typescript")
    (folder / "package.json").write_text('{"private": true}\n')
    run(["npm", "install", "--no-audit", "--no-fund", *command[2:]], folder)
    return folder / "node_modules" / ".bin"


def test_generated_typescript_types_compile(
    server: str, openapi_typescript: Path, tmp_path: Path
) -> None:
    command = documented_command("npx")
    assert command[1] == "openapi-typescript" and command[2].startswith(DOCS_URL)
    output_file = command[command.index("-o") + 1]
    words = [str(openapi_typescript / command[1]), command[2].replace(DOCS_URL, server)]
    output = run([*words, *command[3:]], tmp_path)
    assert "error" not in output.lower() and "warn" not in output.lower(), output
    types = (tmp_path / output_file).read_text()
    assert 'operations["claim_next_task"]' in types and "TaskOut: {" in types
    (tmp_path / "use.ts").write_text(
        'import type { components, operations } from "./taskmanager-api";\n'
        'export type Task = components["schemas"]["TaskOut"];\n'
        'export type Page = operations["list_tasks"]["responses"][200]["content"]'
        '["application/json"];\n'
        'export const status: Task["status"] = "queued";\n'
    )
    run([str(openapi_typescript / "tsc"), "--noEmit", "--strict", output_file, "use.ts"], tmp_path)
