"""The executable pages, run as written against a real server on the test database.

docs/walkthrough.md: only the two addresses in its first block change, the server's port and the
callback receiver's. Everything else (the files the reader writes, the `taskmanager` commands, the
curl calls, the receiver script) comes from the page itself. docs/clients.md continues it with
`task-client`. docs/api.md: its `http://localhost:5000` becomes the server's address.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ..conftest import make_env
from ..support import databases, docpages
from ..support.servers import TASKMANAGER, ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGE = DOCS / "walkthrough.md"
SERVER_LINE = "export TASKMAN_URL=http://localhost:5000"
RECEIVER_LINE = "export RECEIVER_PORT=8765"
ADMIN = ("admin", "admin")
WEIGHTS = {"ann": 1.0, "ben": 1.0, "cas": 0.5}
CALLBACK_BODY = {"study": "STUDY1", "step": "landmarks"}


def page_for(server_port: int, receiver_port: int) -> list[docpages.Block]:
    text = PAGE.read_text()
    # The page must still set both addresses the way this test replaces them.
    assert text.count(SERVER_LINE) == 1 and text.count(RECEIVER_LINE) == 1
    text = text.replace(SERVER_LINE, f"export TASKMAN_URL=http://localhost:{server_port}")
    text = text.replace(RECEIVER_LINE, f"export RECEIVER_PORT={receiver_port}")
    return docpages.blocks(text)


def reader_environment(home: Path) -> dict[str, str]:
    """A shell like the reader's: the taskmanager command on PATH, an empty home, no settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TASKMAN_", "SQLALCHEMY_", "DB_", "SECRET_", "SECURITY_"))
    }
    bin_dir = str(Path(sys.executable).parent)
    return {**env, "HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("walkthrough-server")
    database_url = databases.create_database(workdir)
    # The server the reader starts with ./scripts/run: `taskmanager run`, delivering callbacks.
    env = make_env(database_url, workdir / "instance", TASKMAN_CALLBACK_WORKER="true")
    port = free_port()
    command = [TASKMANAGER, "run", "--port", str(port)]
    try:
        with ServerProcess(command, port=port, env=env, cwd=workdir) as process:
            yield process
    finally:
        databases.drop_database(database_url)


def api(server: ServerProcess, path: str, **params: Any) -> Any:
    response = requests.get(f"{server.url}/api/v1{path}", params=params, auth=ADMIN, timeout=30)
    response.raise_for_status()
    return response.json()


def block_output(page: list[docpages.Block], transcript: docpages.Transcript, *needles: str) -> str:
    """What the one command block containing every needle printed."""
    matching = [b for b in page if b.is_command and all(n in b.body for n in needles)]
    assert len(matching) == 1, (needles, [b.body for b in matching])
    return transcript.by_block[matching[0].index]


def run_page(
    name: str, page: list[docpages.Block], cwd: Path, env: dict[str, str]
) -> docpages.Transcript:
    transcript = docpages.run(page, cwd=cwd, env=env, name=name, timeout=150)
    assert transcript.returncode == 0, docpages.describe_failure(page, transcript)
    # Every block ran (a block that printed nothing still announced itself).
    assert set(transcript.by_block) == {b.index for b in page if b.is_command or b.is_file}
    return transcript


def test_walkthrough_runs_as_written(server: ServerProcess, tmp_path: Path) -> None:
    workdir, home = tmp_path / "study", tmp_path / "home"
    workdir.mkdir()
    home.mkdir()
    server_port = int(server.url.rsplit(":", 1)[1])
    page = page_for(server_port, free_port())

    transcript = run_page("walkthrough", page, workdir, reader_environment(home))
    # The reader's own ~/.netrc (or anything else in their home) is left alone.
    assert list(home.iterdir()) == []

    # 1,000 tasks, distributed by weight.
    assert "Tasks created 1000, skipped 0, failed 0" in block_output(
        page, transcript, "add-task", "-d annotators"
    )
    assert api(server, "/tasks", project="STUDY1", limit=1)["total_tasks"] == 1000
    counts = {
        user: api(server, "/tasks", project="STUDY1", user=user, limit=1)["total_tasks"]
        for user in WEIGHTS
    }
    assert sum(counts.values()) == 1000
    for user, weight in WEIGHTS.items():
        expected = 1000 * weight / sum(WEIGHTS.values())
        assert abs(counts[user] - expected) <= 10, counts
    assert block_output(page, transcript, "for user in ann ben cas").split() == [
        word for user in WEIGHTS for word in (f"{user}:", str(counts[user]))
    ]

    # A lock taken by Ann, refused to Dana with 409 naming Ann, released by Dana.
    refused = block_output(page, transcript, "dana:", "-X PUT")
    *_, body, status = refused.strip().splitlines()
    assert status == "HTTP 409"
    assert json.loads(body)["username"] == "ann"

    # The task done by Ann, its lock free, and its history telling the story.
    done = api(server, "/tasks", project="STUDY1", status="done")["tasks"]
    assert len(done) == 1
    task_id = done[0]["id"]
    detail = api(server, f"/tasks/{task_id}")
    assert detail["status"] == "done"
    assert detail["done_by"] == api(server, "/users/ann")["uri"]
    assert api(server, f"/tasks/{task_id}/lock")["lock"] is None
    history = api(server, f"/tasks/{task_id}/history")["history"]
    steps = [(entry["username"], entry["action"]) for entry in history]
    assert steps == [
        ("admin", "create"),
        ("ann", "lock"),
        ("dana", "unlock"),
        ("ann", "lock"),
        ("ann", "status"),
        ("ann", "unlock"),  # done releases the lock
    ]
    # Every unlock entry names the holder the same way; done says why.
    assert [entry["detail"] for entry in history if entry["action"] == "unlock"] == [
        {"user": "ann"},
        {"user": "ann", "reason": "done"},
    ]
    assert "https://xnat.example.org/data/projects/STUDY1" in detail["content"]

    # Its callback received by the page's receiver, and recorded as delivered.
    received = [json.loads(line) for line in (workdir / "callbacks.log").read_text().splitlines()]
    assert len(received) == 1
    assert received[0]["path"] == "/studies/STUDY1/landmarks"
    assert received[0]["body"] == CALLBACK_BODY
    deliveries = api(server, "/callbacks", task=task_id)
    assert [d["status"] for d in deliveries["callbacks"]] == ["delivered"]
    assert received[0]["idempotency_key"] == deliveries["callbacks"][0]["idempotency_key"]

    # docs/clients.md continues the walk-through: Ben, with task-client, locks and releases.
    clients = docpages.blocks((DOCS / "clients.md").read_text())
    env = {**reader_environment(home), "TASKMAN_URL": f"http://localhost:{server_port}"}
    printed = run_page("clients", clients, workdir, env).output
    assert f"{counts['ben']} tasks wait for Ben" in printed
    assert "is locked to ben" in printed and "is free again: True" in printed


def test_api_page_examples_run_as_written(server: ServerProcess, tmp_path: Path) -> None:
    text = (DOCS / "api.md").read_text().replace("http://localhost:5000", server.url)
    page = docpages.blocks(text)
    transcript = run_page("api", page, tmp_path, reader_environment(tmp_path))

    refused = block_output(page, transcript, "HTTP %{http_code}")
    *_, body, status = refused.strip().splitlines()
    assert status == "HTTP 400"
    assert "1.content" in json.loads(body)["errors"]
    members = api(server, "/groups/readers/users")["users"]
    assert members == [api(server, "/users/erin")["uri"]]
    assert api(server, "/users/erin")["assignment_weight"] == 0.5
    tasks = api(server, "/tasks", project="DEMO")["tasks"]
    assert len(tasks) == 2  # the refused list created nothing
    bodies = [api(server, f"/tasks/{task['id']}")["callback_content"] for task in tasks]
    assert [json.loads(body) for body in bodies] == [{"subject": "S01"}, {"subject": "S02"}]
    assert all(api(server, f"/tasks/{task['id']}/lock")["lock"] is None for task in tasks)
    assert api(server, "/meta/PIPELINE")["value"] == "https://pipeline2.example.org"
    # The create sent twice with one Idempotency-Key: created, then answered again.
    assert block_output(page, transcript, "Idempotency-Key").split() == ["201", "200"]
    assert api(server, "/tasks", project="RETRY")["total_tasks"] == 1
