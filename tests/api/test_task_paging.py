"""Keyset pages of the task lists: `after` (and its old name `after_id`), the `next` link, and
whether the total is an estimate."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from taskmanager.services.tasks import lists

from ..conftest import basic_auth
from ..support.task_factories import PASSWORD, make_group, make_task, make_template, make_user
from .test_tasks import database

ALICE = basic_auth("alice", PASSWORD)


@pytest.fixture
def world(app) -> dict[str, Any]:
    """Seven tasks: alice has 1-3 directly and 4 via her group; tags x on the odd ones."""
    with database(app) as session:
        make_template(session, "tpl")
        alice = make_user(session, "alice")
        make_group(session, "team", [alice])
        ids = []
        for number in range(7):
            assignment: dict[str, Any] = (
                {"users": ["alice"]}
                if number < 3
                else {"groups": ["team"]}
                if number == 3
                else {"users": ["admin"]}
            )
            tags = ["x"] if number % 2 == 0 else []
            ids.append(make_task(session, project="p", tags=tags, **assignment).id)
        return {"tasks": ids}


def _walk(client, headers, first: str) -> tuple[list[int], list[str]]:
    """The ids of every page reached by following `next`, and the links followed."""
    seen: list[int] = []
    links: list[str] = []
    url: str | None = first
    while url is not None:
        assert len(links) < 20, "the next links do not end"
        answer = client.get(url, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        seen += [int(task["id"]) for task in body["tasks"]]
        url = body["next"]
        if url is not None:
            links.append(url)
    return seen, links


@pytest.mark.parametrize(
    ("path", "viewer", "expected"),
    [
        ("/api/v1/tasks?limit=2", "admin", range(7)),
        ("/api/v1/tasks?limit=2&tag=x&project=p", "admin", (0, 2, 4, 6)),
        ("/api/v1/tasks?limit=2", "alice", range(4)),
        ("/api/v1/users/alice/tasks?limit=3", "alice", range(4)),
        ("/api/v1/groups/team/tasks?limit=1", "admin", (3,)),
        ("/api/v1/tags/x/tasks?limit=3", "admin", (0, 2, 4, 6)),
    ],
)
def test_following_next_walks_the_whole_list_once(
    client, world, admin_headers, path, viewer, expected
) -> None:
    headers = admin_headers if viewer == "admin" else ALICE
    seen, links = _walk(client, headers, path)
    assert seen == [world["tasks"][number] for number in expected]
    limit = parse_qs(urlsplit(path).query)["limit"]
    for link in links:
        parts = urlsplit(link)
        query = parse_qs(parts.query)
        # A full URL, in keyset form, keeping the filters and limit.
        assert parts.scheme == "http" and parts.netloc and parts.path == urlsplit(path).path
        assert set(query) - {"after"} == set(parse_qs(urlsplit(path).query))
        assert query["limit"] == limit and "offset" not in query


def test_a_list_that_fits_one_page_has_no_next(client, world, admin_headers) -> None:
    assert client.get("/api/v1/tasks?limit=7", headers=admin_headers).get_json()["next"] is None
    assert client.get("/api/v1/tasks?limit=0", headers=admin_headers).get_json()["next"] is None


def test_next_from_an_offset_page_is_a_keyset_link(client, world, admin_headers) -> None:
    body = client.get("/api/v1/tasks?limit=2&offset=2", headers=admin_headers).get_json()
    query = parse_qs(urlsplit(body["next"]).query)
    assert query == {"limit": ["2"], "after": [str(world["tasks"][3])]}


def test_in_priority_order_next_goes_by_offset(client, world, admin_headers) -> None:
    seen, links = _walk(client, admin_headers, "/api/v1/tasks?limit=3&order=priority")
    assert sorted(seen) == world["tasks"] and len(links) == 2
    assert parse_qs(urlsplit(links[-1]).query)["offset"] == ["6"]


@pytest.mark.parametrize("name", ["after", "after_id"])
def test_after_and_its_old_name_start_after_the_id(client, world, admin_headers, name) -> None:
    third = world["tasks"][2]
    body = client.get(f"/api/v1/tasks?{name}={third}", headers=admin_headers).get_json()
    assert [int(task["id"]) for task in body["tasks"]] == world["tasks"][3:]
    assert body["total_tasks"] == 7 and body["offset"] == 0


def test_after_wins_over_after_id(client, world, admin_headers) -> None:
    tasks = world["tasks"]
    query = f"after={tasks[4]}&after_id={tasks[0]}"
    body = client.get(f"/api/v1/tasks?{query}", headers=admin_headers).get_json()
    assert [int(task["id"]) for task in body["tasks"]] == tasks[5:]


@pytest.mark.parametrize("value", ["-1", "x", "1.5"])
def test_a_bad_after_names_the_field(client, admin_headers, value) -> None:
    response = client.get(f"/api/v1/tasks?after={value}", headers=admin_headers)
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == ["query.after"]


def test_a_total_from_the_count_cache_is_marked_as_an_estimate(
    app, client, world, admin_headers, monkeypatch
) -> None:
    monkeypatch.setitem(app.extensions, "taskman_count_cache", lists.CountCache(60, min_count=1))
    first = client.get("/api/v1/tasks?limit=2", headers=admin_headers).get_json()
    again = client.get(first["next"], headers=admin_headers).get_json()
    assert (first["total_is_estimate"], first["total_tasks"]) == (False, 7)
    assert (again["total_is_estimate"], again["total_tasks"]) == (True, 7)
