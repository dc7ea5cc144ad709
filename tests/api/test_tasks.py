"""Contract of the task routes: status codes, field names and types, as the spec gives them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from taskmanager.models import Task, User, db, utcnow

from ..conftest import basic_auth
from ..support.task_factories import (
    PASSWORD,
    make_group,
    make_task,
    make_template,
    make_user,
    set_meta,
)

SUMMARY_KEYS = {"uri", "id", "status", "project", "template", "tags"}
# The old server's keys, then ours (issue 21).
LIST_KEYS = {"tasks", "total_tasks", "offset", "limit", "total_is_estimate", "next"}
DETAIL_KEYS = {
    # the old server's fields
    "uri",
    "project",
    "template",
    "content",
    "status",
    "lock",
    "tags",
    "callback_url",
    "callback_content",
    "generator_url",
    "application_name",
    "application_version",
    "create_time",
    "update_time",
    "users",
    "groups",
    "users_via_group",
    # ours
    "id",
    "tracking_id",
    "raw_content",
    "raw_callback_url",
    "taskgroup",
    "done_by",
    "done_time",
    # scheduling (issue 20)
    "subject",
    "series",
    "priority",
    "due",
    "effort",
    "wait_for",
    "wait_detail",
    "wait_checked_time",
}
ALICE = basic_auth("alice", PASSWORD)
BOB = basic_auth("bob", PASSWORD)


@contextmanager
def database(app: Any) -> Iterator[Any]:
    """A session outside the requests' app context (they must not share `g`), committed."""
    with app.app_context():
        yield db.session
        db.session.commit()


@pytest.fixture
def world(app) -> dict[str, Any]:
    """alice (user) has task 1 directly and task 2 via group team; bob (user) has task 3."""
    with database(app) as session:
        return _world(session)


def _world(session: Any) -> dict[str, Any]:
    make_template(session, "tpl")
    alice = make_user(session, "alice")
    bob = make_user(session, "bob")
    make_user(session, "sue", roles=["superuser"])
    team = make_group(session, "team", [alice])
    t1 = make_task(session, users=["alice"], tags=["x", "y"], project="p1")
    t2 = make_task(session, groups=["team"], tags=["x"], project="p2")
    t3 = make_task(session, users=["bob"], project="p1")
    session.commit()
    return {"alice": alice, "bob": bob, "team": team, "tasks": [t1.id, t2.id, t3.id]}


def _assert_summary(summary: dict[str, Any]) -> None:
    assert set(summary) == SUMMARY_KEYS
    assert isinstance(summary["id"], str) and summary["uri"] == f"/api/v1/tasks/{summary['id']}"
    assert summary["template"].startswith("/api/v1/task_templates/")
    for tag in summary["tags"]:
        assert set(tag) == {"uri", "name"} and tag["uri"].startswith("/api/v1/tags/")


def _assert_detail(detail: dict[str, Any]) -> None:
    assert set(detail) == DETAIL_KEYS
    assert isinstance(detail["id"], str)
    assert detail["uri"] == f"/api/v1/tasks/{detail['id']}"
    assert detail["lock"] == f"{detail['uri']}/lock"
    for key in ("content", "raw_content", "status", "project", "tracking_id"):
        assert isinstance(detail[key], str)
    for key in ("tags", "users", "groups", "users_via_group"):
        assert isinstance(detail[key], list) and all(isinstance(u, str) for u in detail[key])
    for key in ("create_time", "update_time"):
        assert detail[key].endswith("+00:00")


# --- POST /tasks -----------------------------------------------------------------------------


def test_create_matches_the_old_servers_answer(client, app, admin_headers) -> None:
    with database(app) as session:
        make_template(session, "tpl")
        admin_id = session.scalars(select(User.id).where(User.username == "admin")).one()
    body = {
        "project": "p",
        "template": "tpl",
        "content": {"template": "tpl"},
        "tags": ["a"],
        "users": ["admin"],
    }
    response = client.post("/api/v1/tasks", json=body, headers=admin_headers)
    assert response.status_code == 201
    detail = response.get_json()
    _assert_detail(detail)
    task_id = detail["id"]
    assert {k: detail[k] for k in detail if k not in ("create_time", "update_time", "id")} == {
        "uri": f"/api/v1/tasks/{task_id}",
        "project": "p",
        "template": detail["template"],
        "content": '{"template": "tpl"}',
        "raw_content": '{"template": "tpl"}',
        "status": "queued",
        "lock": f"/api/v1/tasks/{task_id}/lock",
        "tags": [detail["tags"][0]],
        "callback_url": None,
        "raw_callback_url": None,
        "callback_content": None,
        "generator_url": None,
        "application_name": None,
        "application_version": None,
        "tracking_id": "unassigned",
        "users": [f"/api/v1/users/{admin_id}"],
        "groups": [],
        "users_via_group": [],
        "taskgroup": None,
        "done_by": None,
        "done_time": None,
        "subject": None,
        "series": None,
        "priority": 0,
        "due": None,
        "effort": 1.0,
        "wait_for": None,
        "wait_detail": None,
        "wait_checked_time": None,
    }
    assert detail["create_time"] == detail["update_time"]


def test_create_with_every_field(client, app, admin_headers) -> None:
    with database(app) as session:
        make_template(session, "tpl")
        alice = make_user(session, "alice")
        group = make_group(session, "team", [alice])
        set_meta(session, "HOST", "http://hooks")
    body = {
        "project": "p",
        "template": "/api/v1/task_templates/tpl",
        "content": "name: $HOST\n",
        "callback_url": "$HOST/cb",
        "callback_content": {"done": True},
        "generator_url": "http://generator",
        "tracking_id": "ext-7",
        "application_name": "viewr",
        "application_version": "2.1",
        "groups": [group.id],
        "unknown_field": "ignored",
    }
    detail = client.post("/api/v1/tasks", json=body, headers=admin_headers).get_json()
    _assert_detail(detail)
    assert detail["content"] == "name: http://hooks\n"
    assert detail["raw_content"] == "name: $HOST\n"
    assert (detail["callback_url"], detail["raw_callback_url"]) == (
        "http://hooks/cb",
        "$HOST/cb",
    )
    assert detail["callback_content"] == '{"done": true}'
    assert detail["groups"] == [f"/api/v1/groups/{group.id}"]
    assert detail["users_via_group"] == [f"/api/v1/users/{alice.id}"]
    assert (detail["tracking_id"], detail["application_name"]) == ("ext-7", "viewr")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"project": "p", "template": "nope", "content": "x"}, 404, "template"),
        ({"project": "p", "template": "tpl", "content": "x", "users": ["nobody"]}, 404, "users"),
        ({"project": "p", "template": "tpl", "content": "x", "groups": ["nope"]}, 404, "groups"),
        (
            {
                "project": "p",
                "template": "tpl",
                "content": "x",
                "users": ["admin"],
                "distribute_in_group": "g",
            },
            400,
            "distribute_in_group",
        ),
        ({"template": "tpl", "content": "x"}, 400, "project"),
        ({"project": "p", "template": "tpl"}, 400, "content"),
        ({"project": "p", "template": ["tpl"], "content": "x"}, 400, "template"),
        ({"project": "p" * 65, "template": "tpl", "content": "x"}, 400, "project"),
        ({"project": "p", "template": "tpl", "content": "x", "tags": ["t" * 33]}, 400, "tags"),
    ],
)
def test_create_refusals(client, app, admin_headers, body, status, field) -> None:
    with database(app) as session:
        make_template(session, "tpl")
        make_group(session, "g")
    response = client.post("/api/v1/tasks", json=body, headers=admin_headers)
    assert response.status_code == status, response.get_json()
    answer = response.get_json()
    assert isinstance(answer["message"], str) and field in answer["errors"]
    with database(app) as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 0


def test_create_refuses_scan_mismatch_naming_scans(client, app, admin_headers) -> None:
    with database(app) as session:
        make_template(session, "viewr", {"scans": [{"label": "T1"}, {"label": "T2"}]})
    body = {"project": "p", "template": "viewr", "content": {"scan_sources": {"T1": "a", "X": "b"}}}
    response = client.post("/api/v1/tasks", json=body, headers=admin_headers)
    assert response.status_code == 400
    answer = response.get_json()
    assert (answer["missing_scans"], answer["extra_scans"]) == (["T2"], ["X"])
    assert "missing T2" in answer["errors"]["content"][0]


@pytest.mark.parametrize("body", [b"not json", b"42", b'"text"', b"null"])
def test_create_refuses_bodies_that_are_not_tasks(client, admin_headers, body) -> None:
    response = client.post(
        "/api/v1/tasks",
        data=body,
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "message" in response.get_json()


def test_bulk_create_answers_summaries_in_order(client, app, admin_headers) -> None:
    with database(app) as session:
        make_template(session, "tpl")
    body = [
        {"project": f"p{i}", "template": "tpl", "content": {"i": i}, "tags": ["b", "a"]}
        for i in range(3)
    ]
    response = client.post("/api/v1/tasks", json=body, headers=admin_headers)
    assert response.status_code == 201
    answer = response.get_json()
    assert set(answer) == {"tasks"}
    for summary in answer["tasks"]:
        _assert_summary(summary)
    assert [s["project"] for s in answer["tasks"]] == ["p0", "p1", "p2"]
    assert [t["name"] for t in answer["tasks"][0]["tags"]] == ["b", "a"] or [
        t["name"] for t in answer["tasks"][0]["tags"]
    ] == ["a", "b"]


def test_bulk_create_refusal_lists_every_bad_task(client, app, admin_headers) -> None:
    with database(app) as session:
        make_template(session, "tpl")
    good = {"project": "p", "template": "tpl", "content": "x"}
    body = [good, {"project": "p", "template": "nope", "content": "x"}, good, {"content": 1}, 7]
    response = client.post("/api/v1/tasks", json=body, headers=admin_headers)
    assert response.status_code == 400
    answer = response.get_json()
    assert set(answer["errors"]) == {"1.template", "3.project", "3.template", "3.content", "4"}
    assert answer["message"] == "3 of 5 tasks are invalid; none was created"
    with database(app) as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 0


def test_bulk_create_refuses_empty_and_oversized_arrays(client, admin_headers) -> None:
    assert client.post("/api/v1/tasks", json=[], headers=admin_headers).status_code == 400
    response = client.post("/api/v1/tasks", json=[{}] * 10_001, headers=admin_headers)
    assert response.status_code == 400
    assert "10000" in response.get_json()["message"]


# --- GET /tasks ------------------------------------------------------------------------------


def test_list_shape(client, world, admin_headers) -> None:
    response = client.get("/api/v1/tasks?limit=2", headers=admin_headers)
    assert response.status_code == 200
    answer = response.get_json()
    assert set(answer) == LIST_KEYS
    assert (answer["total_tasks"], answer["offset"], answer["limit"]) == (3, 0, 2)
    for summary in answer["tasks"]:
        _assert_summary(summary)
    first = answer["tasks"][0]
    assert [tag["name"] for tag in first["tags"]] == ["x", "y"]
    assert (first["status"], first["project"]) == ("queued", "p1")


def test_list_filters(client, world, admin_headers) -> None:
    t1, t2, t3 = (str(i) for i in world["tasks"])

    def ids(query: str, headers=admin_headers) -> list[str]:
        response = client.get(f"/api/v1/tasks?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [task["id"] for task in response.get_json()["tasks"]]

    assert ids("") == [t1, t2, t3]
    assert ids("project=p1") == [t1, t3]
    assert ids("tag=x") == [t1, t2]
    assert ids("tag=x&tag=y") == [t1]
    assert ids("template=tpl&status=queued") == [t1, t2, t3]
    assert ids("status=done") == []
    assert ids("application_name=none") == []
    assert ids("user=alice") == [t1, t2]
    assert ids("user=alice&offset=1&limit=5") == [t2]
    assert ids("", headers=ALICE) == [t1, t2]
    assert ids("user=bob", headers=ALICE) == [t1, t2]
    assert ids("", headers=BOB) == [t3]


@pytest.mark.parametrize("query", ["limit=-1", "offset=-3", "limit=many", "offset=1.5"])
def test_list_refuses_bad_paging(client, admin_headers, query) -> None:
    response = client.get(f"/api/v1/tasks?{query}", headers=admin_headers)
    assert response.status_code == 400
    assert "errors" in response.get_json()


def test_list_caps_the_limit(client, world, admin_headers) -> None:
    answer = client.get("/api/v1/tasks?limit=999999", headers=admin_headers).get_json()
    assert answer["limit"] == 10_000 and len(answer["tasks"]) == 3
    assert client.get("/api/v1/tasks", headers=admin_headers).get_json()["limit"] == 10_000


@pytest.mark.parametrize("filters", ["", "project=p1", "tag=x", "user=alice"])
def test_walking_with_after_id_gives_the_ids_walking_with_offset_gives(
    client, world, admin_headers, filters
) -> None:
    def walk(step: Any) -> tuple[list[str], set[int]]:
        seen: list[str] = []
        totals = set()
        while True:
            answer = client.get(
                f"/api/v1/tasks?{filters}&limit=1&{step(seen)}", headers=admin_headers
            )
            assert answer.status_code == 200, answer.get_json()
            body = answer.get_json()
            assert set(body) == LIST_KEYS
            totals.add(body["total_tasks"])
            if not body["tasks"]:
                return seen, totals
            seen += [task["id"] for task in body["tasks"]]

    by_offset = walk(lambda seen: f"offset={len(seen)}")
    by_keyset = walk(lambda seen: f"after_id={seen[-1]}" if seen else "")
    assert by_keyset == by_offset and len(by_offset[1]) == 1
    assert len(by_offset[0]) == by_offset[1].pop()


@pytest.mark.parametrize("query", ["after_id=-1", "after_id=x", "after_id=1.5"])
def test_list_refuses_a_bad_after_id(client, admin_headers, query) -> None:
    response = client.get(f"/api/v1/tasks?{query}", headers=admin_headers)
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == ["query.after_id"]


# --- one task --------------------------------------------------------------------------------


def test_get_task(client, world, admin_headers) -> None:
    t1, t2, _ = world["tasks"]
    response = client.get(f"/api/v1/tasks/{t2}", headers=ALICE)
    assert response.status_code == 200
    detail = response.get_json()
    _assert_detail(detail)
    assert detail["groups"] == [f"/api/v1/groups/{world['team'].id}"]
    assert detail["users_via_group"] == [f"/api/v1/users/{world['alice'].id}"]
    assert detail["users"] == []


@pytest.mark.parametrize("task_ref", ["999", "abc", "0", "99999999999999999999"])
def test_unknown_task_is_404(client, world, admin_headers, task_ref) -> None:
    response = client.get(f"/api/v1/tasks/{task_ref}", headers=admin_headers)
    assert response.status_code == 404
    assert "message" in response.get_json()


def test_others_task_is_404_for_a_user(client, world) -> None:
    t3 = world["tasks"][2]
    assert client.get(f"/api/v1/tasks/{t3}", headers=ALICE).status_code == 404
    assert (
        client.put(f"/api/v1/tasks/{t3}", json={"status": "done"}, headers=ALICE).status_code == 404
    )


def test_put_status_done(client, world) -> None:
    t1 = world["tasks"][0]
    response = client.put(f"/api/v1/tasks/{t1}", json={"status": "done"}, headers=ALICE)
    assert response.status_code == 200
    detail = response.get_json()
    _assert_detail(detail)
    assert detail["status"] == "done"
    assert detail["done_by"] == f"/api/v1/users/{world['alice'].id}"
    assert detail["done_time"] is not None


def test_put_forbidden_field_names_it_and_changes_nothing(client, world) -> None:
    t1 = world["tasks"][0]
    response = client.put(
        f"/api/v1/tasks/{t1}", json={"status": "done", "project": "x", "users": []}, headers=ALICE
    )
    assert response.status_code == 403
    answer = response.get_json()
    assert set(answer["errors"]) == {"project", "users"}
    assert "project" in answer["message"]
    after = client.get(f"/api/v1/tasks/{t1}", headers=ALICE).get_json()
    assert (after["status"], after["project"]) == ("queued", "p1")


def test_put_every_field_as_admin(client, world, admin_headers) -> None:
    t1 = world["tasks"][0]
    body = {
        "project": "q",
        "template": "tpl",
        "content": {"a": 1},
        "callback_url": "http://cb",
        "callback_content": "{}",
        "generator_url": "http://gen",
        "tracking_id": "t-1",
        "application_name": "app",
        "application_version": "1.0",
        "tags": ["z"],
        "users": ["bob"],
        "groups": ["team"],
        "status": "aborted",
    }
    response = client.put(f"/api/v1/tasks/{t1}", json=body, headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    detail = response.get_json()
    assert (detail["project"], detail["content"], detail["status"]) == ("q", '{"a": 1}', "aborted")
    assert detail["users"] == [f"/api/v1/users/{world['bob'].id}"]
    assert len(detail["tags"]) == 1
    assert detail["update_time"] > detail["create_time"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"status": 5}, 400),
        ({"status": None}, 400),
        ({"users": "alice"}, 400),
        ({"users": ["nobody"]}, 404),
        ({"template": "nope"}, 404),
    ],
)
def test_put_refusals(client, world, admin_headers, body, status) -> None:
    t1 = world["tasks"][0]
    response = client.put(f"/api/v1/tasks/{t1}", json=body, headers=admin_headers)
    assert response.status_code == status, response.get_json()
    assert "errors" in response.get_json()


def test_delete_task(client, world, admin_headers) -> None:
    t1 = world["tasks"][0]
    response = client.delete(f"/api/v1/tasks/{t1}", headers=admin_headers)
    assert response.status_code == 200
    assert isinstance(response.get_json()["message"], str)
    assert client.get(f"/api/v1/tasks/{t1}", headers=admin_headers).status_code == 404
    assert client.delete(f"/api/v1/tasks/{t1}", headers=admin_headers).status_code == 404


def test_task_at_timepoint(client, app, admin_headers) -> None:
    then = utcnow() - timedelta(days=3)
    with database(app) as session:
        make_template(session, "tpl")
        set_meta(session, "HOST", "http://old", at=then)
        set_meta(session, "HOST", "http://new", at=then + timedelta(days=2))
        task = make_task(session, content="$HOST/x", callback_url="$HOST/cb")
    at = (then + timedelta(days=1)).isoformat()
    response = client.get(
        f"/api/v1/task-at-timepoint/{task.id}",
        query_string={"timestamp": at},
        headers=admin_headers,
    )
    assert response.status_code == 200
    detail = response.get_json()
    _assert_detail(detail)
    assert (detail["content"], detail["callback_url"]) == ("http://old/x", "http://old/cb")
    naive = (then + timedelta(days=1)).replace(tzinfo=None).isoformat()
    response = client.get(
        f"/api/v1/task-at-timepoint/{task.id}?timestamp={naive}", headers=admin_headers
    )
    assert response.get_json()["content"] == "http://old/x"
    now = client.get(f"/api/v1/task-at-timepoint/{task.id}", headers=admin_headers).get_json()
    assert now["content"] == "http://new/x"
    bad = client.get(
        f"/api/v1/task-at-timepoint/{task.id}?timestamp=yesterday", headers=admin_headers
    )
    assert bad.status_code == 400


def test_history(client, world, admin_headers) -> None:
    t1 = world["tasks"][0]
    client.put(f"/api/v1/tasks/{t1}", json={"status": "done"}, headers=ALICE)
    response = client.get(f"/api/v1/tasks/{t1}/history", headers=ALICE)
    assert response.status_code == 200
    answer = response.get_json()
    assert set(answer) == {"history", "total", "offset", "limit"}
    assert [e["action"] for e in answer["history"]] == ["create", "status"]
    last = answer["history"][-1]
    assert set(last) == {"id", "timestamp", "action", "actor", "username", "detail"}
    assert (last["username"], last["actor"]) == ("alice", f"/api/v1/users/{world['alice'].id}")
    assert last["detail"] == {"old": "queued", "new": "done"}
    assert (
        client.get(f"/api/v1/tasks/{world['tasks'][2]}/history", headers=ALICE).status_code == 404
    )


# --- lists of a user, a group, a tag ---------------------------------------------------------


def test_user_group_and_tag_task_lists(client, world, admin_headers) -> None:
    t1, t2, t3 = (str(i) for i in world["tasks"])
    alice, team = world["alice"], world["team"]

    def ids(path: str, headers=admin_headers) -> list[str]:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.get_json()
        answer = response.get_json()
        assert set(answer) == LIST_KEYS
        for summary in answer["tasks"]:
            _assert_summary(summary)
        return [task["id"] for task in answer["tasks"]]

    assert ids(f"/api/v1/users/{alice.id}/tasks") == [t1, t2]
    assert ids("/api/v1/users/alice/tasks", headers=ALICE) == [t1, t2]
    assert ids(f"/api/v1/groups/{team.id}/tasks") == [t2]
    assert ids("/api/v1/groups/team/tasks", headers=ALICE) == [t2]
    assert ids("/api/v1/tags/x/tasks") == [t1, t2]
    assert ids("/api/v1/tags/x/tasks", headers=BOB) == []
    for path in (
        "/api/v1/users/nobody/tasks",
        "/api/v1/groups/nope/tasks",
        "/api/v1/tags/nope/tasks",
    ):
        assert client.get(path, headers=admin_headers).status_code == 404


def test_deployment_prefix_is_in_every_url(client, world, admin_headers) -> None:
    t2 = world["tasks"][1]
    environ = {"SCRIPT_NAME": "/taskmanager"}
    detail = client.get(
        f"/api/v1/tasks/{t2}", headers=admin_headers, environ_overrides=environ
    ).get_json()
    urls = [detail["uri"], detail["template"], detail["lock"], *detail["tags"], *detail["groups"]]
    assert all(url.startswith("/taskmanager/api/v1/") for url in urls), urls
    listing = client.get("/api/v1/tasks", headers=admin_headers, environ_overrides=environ)
    assert listing.get_json()["tasks"][0]["uri"].startswith("/taskmanager/api/v1/tasks/")


def test_openapi_describes_every_task_route(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    expected = {
        "/api/v1/tasks": {"get", "post"},
        "/api/v1/tasks/{task_id}": {"get", "put", "delete"},
        "/api/v1/tasks/{task_id}/history": {"get"},
        "/api/v1/task-at-timepoint/{task_id}": {"get"},
        "/api/v1/users/{user_id}/tasks": {"get"},
        "/api/v1/groups/{group_id}/tasks": {"get"},
        "/api/v1/tags/{tag_id}/tasks": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            assert paths[path][method]["summary"]
    post = paths["/api/v1/tasks"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]
    assert "201" in post["responses"]
    names = [p["name"] for p in paths["/api/v1/tasks"]["get"]["parameters"]]
    assert {"project", "template", "user", "status", "tag", "offset", "limit"} <= set(names)


@contextmanager
def _counting_queries(app: Any) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("role", ["admin", "user"])
def test_a_page_costs_the_same_queries_whatever_its_size(client, app, role) -> None:
    with database(app) as session:
        make_template(session, "tpl")
        make_user(session, "alice")
        make_group(session, "team")
    headers = basic_auth("admin", "admin") if role == "admin" else ALICE
    client.get("/api/v1/tasks", headers=headers)  # authenticate once (the slow hash)
    counts, created = [], 0
    for size in (55, 120):
        with database(app) as session:
            for _ in range(size - created):
                make_task(session, users=["alice"], groups=["team"], tags=["a", "b", "c"])
        created = size
        with _counting_queries(app) as statements:
            response = client.get("/api/v1/tasks?limit=50&offset=1", headers=headers)
        assert response.status_code == 200
        assert len(response.get_json()["tasks"]) == 50
        assert response.get_json()["total_tasks"] == size
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    # page, its tags and the count, plus authentication's user and roles lookups
    assert counts[1] <= 6, counts


def test_one_task_costs_a_fixed_number_of_queries(client, app) -> None:
    with database(app) as session:
        make_template(session, "tpl")
        alice = make_user(session, "alice")
        make_group(session, "team", [alice])
        small = make_task(session, users=["alice"]).id
        big = make_task(
            session, users=["alice", "admin"], groups=["team"], tags=["a", "b", "c", "d"]
        ).id
    client.get("/api/v1/tasks?limit=1", headers=ALICE)
    counts = []
    for task_id in (small, big):
        with _counting_queries(app) as statements:
            assert client.get(f"/api/v1/tasks/{task_id}", headers=ALICE).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 6, counts
