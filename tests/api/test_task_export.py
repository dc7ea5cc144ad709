"""GET /tasks/export: NDJSON and CSV, the list's filters and visibility, refusals."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from taskmanager.services.tasks import export

from ..conftest import basic_auth
from ..support.task_factories import PASSWORD
from .test_tasks import _world as make_world
from .test_tasks import database

ALICE = basic_auth("alice", PASSWORD)


@pytest.fixture
def world(app) -> dict[str, Any]:
    """alice (user) has task 1 directly and task 2 via group team; bob (user) has task 3."""
    with database(app) as session:
        return make_world(session)


def _ndjson(client, headers, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/tasks/export?{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/x-ndjson"
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_ndjson_rows_name_what_the_task_refers_to(client, world, admin_headers) -> None:
    rows = _ndjson(client, admin_headers)
    assert [row["id"] for row in rows] == world["tasks"]
    first = rows[0]
    assert list(first) == list(export.COLUMNS)
    assert first["template"] == "tpl" and first["project"] == "p1"
    assert (first["users"], first["groups"], first["tags"]) == (["alice"], [], ["x", "y"])
    assert (rows[1]["users"], rows[1]["groups"]) == ([], ["team"])
    assert first["lock"] is None and first["create_time"].endswith("+00:00")


def test_the_lock_holder_is_named(client, world) -> None:
    task_id = world["tasks"][0]
    assert client.put(f"/api/v1/tasks/{task_id}/lock", headers=ALICE).status_code == 200
    assert _ndjson(client, ALICE)[0]["lock"] == "alice"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("project=p1", [0, 2]),
        ("tag=x", [0, 1]),
        ("tag=x&tag=y", [0]),
        ("user=alice", [0, 1]),
        ("template=tpl&status=queued", [0, 1, 2]),
        ("tag=nosuchtag", []),
        (f"after={10**6}", []),
    ],
)
def test_the_lists_filters_apply(client, world, admin_headers, query, expected) -> None:
    rows = _ndjson(client, admin_headers, query)
    assert [row["id"] for row in rows] == [world["tasks"][number] for number in expected]


def test_after_resumes_after_the_id(client, world, admin_headers) -> None:
    first = world["tasks"][0]
    assert [row["id"] for row in _ndjson(client, admin_headers, f"after={first}")] == world[
        "tasks"
    ][1:]


def test_a_user_exports_only_the_tasks_they_see(client, world) -> None:
    # alice has task 1 directly and task 2 through her group; `user` does not widen it.
    assert [row["id"] for row in _ndjson(client, ALICE)] == world["tasks"][:2]
    assert [row["id"] for row in _ndjson(client, ALICE, "user=bob")] == world["tasks"][:2]


def test_csv_has_a_header_and_lists_joined(client, world, admin_headers) -> None:
    response = client.get("/api/v1/tasks/export?format=csv&project=p1", headers=admin_headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # the charset once
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["id"] for row in rows] == [str(world["tasks"][0]), str(world["tasks"][2])]
    assert (rows[0]["tags"], rows[0]["users"], rows[0]["lock"]) == ("x;y", "alice", "")


def test_streams_in_batches_across_transactions(client, world, admin_headers, monkeypatch) -> None:
    monkeypatch.setattr(export, "BATCH_SIZE", 1)
    response = client.get("/api/v1/tasks/export?format=csv", headers=admin_headers)
    chunks = [chunk for chunk in response.response if chunk]
    # The header with the first task, then one chunk per task.
    assert len(chunks) == 3
    assert len(b"".join(chunks).splitlines()) == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=xml", "query.format"),
        ("after=-1", "query.after"),
        ("overdue=maybe", "query.overdue"),
    ],
)
def test_bad_input_names_the_field(client, admin_headers, query, field) -> None:
    response = client.get(f"/api/v1/tasks/export?{query}", headers=admin_headers)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_needs_credentials(client) -> None:
    assert client.get("/api/v1/tasks/export").status_code == 401
