"""Limits: body size, list lengths, string lengths, page sizes and password length answer
clearly (400/413 naming the field, or a capped page), never with a database error."""

import re
from typing import Any

import pytest

from taskmanager import _flask_config
from taskmanager.config import ConfigurationError, load_settings
from taskmanager.services.accounts import groups
from taskmanager.services.callbacks import outbox as callbacks
from taskmanager.services.flows import taskgroup_changes
from taskmanager.services.kit import paging, validation
from taskmanager.services.reference import tags
from taskmanager.services.tasks import checks, creation, resolution

from ..conftest import make_env
from ..support.accounts import in_app
from ..support.task_factories import make_task, make_template


def test_default_body_limit_fits_a_bulk_of_ten_thousand_tasks(settings) -> None:
    assert settings.max_request_bytes == 64 * 1024 * 1024
    assert _flask_config(settings)["MAX_CONTENT_LENGTH"] == settings.max_request_bytes


def test_body_limit_setting(database_url, tmp_path) -> None:
    env = make_env(database_url, tmp_path, TASKMAN_MAX_REQUEST_BYTES="2048")
    assert load_settings(env).max_request_bytes == 2048
    with pytest.raises(ConfigurationError):
        load_settings(make_env(database_url, tmp_path, TASKMAN_MAX_REQUEST_BYTES="10"))


def test_too_large_body_is_413_with_the_error_shape(app, client, admin_headers, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    body = {"username": "big", "password": "long-enough", "email": "b@example.org"}
    body["name"] = "x" * 2000
    response = client.post("/api/v1/users", json=body, headers=admin_headers)
    assert response.status_code == 413
    answer = response.get_json()
    assert answer["message"] and answer["errors"]["body"] == [
        "The request body is larger than 1024 bytes"
    ]


def test_overlong_strings_are_refused_without_a_database_error(client, admin_headers) -> None:
    body = {"username": "u" * 5000, "password": "long-enough", "email": "u@example.org"}
    response = client.post("/api/v1/users", json=body, headers=admin_headers)
    assert response.status_code in (400, 422)
    assert "username" in response.get_json()["errors"]


def test_password_minimum_on_api_create_and_update(app, client, admin_headers) -> None:
    assert app.config["SECURITY_PASSWORD_LENGTH_MIN"] == 8
    body = {"username": "shorty", "password": "short", "email": "s@example.org"}
    refused = client.post("/api/v1/users", json=body, headers=admin_headers)
    assert refused.status_code == 400
    assert refused.get_json()["errors"]["password"]
    body["password"] = "long-enough"
    created = client.post("/api/v1/users", json=body, headers=admin_headers)
    assert created.status_code == 201
    uri = created.get_json()["uri"]
    short = client.put(uri, json={"password": "1234567"}, headers=admin_headers)
    assert short.status_code == 400 and "password" in short.get_json()["errors"]
    assert client.put(uri, json={"password": "12345678"}, headers=admin_headers).status_code == 200


def test_password_minimum_setting(database_url, tmp_path) -> None:
    env = make_env(database_url, tmp_path, SECURITY_PASSWORD_LENGTH_MIN="12")
    settings = load_settings(env)
    assert settings.password_length_min == 12
    assert _flask_config(settings)["SECURITY_PASSWORD_LENGTH_MIN"] == 12


def _refused(response: Any, field: str) -> None:
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["errors"], response.get_json()
    response.close()


def test_tags_per_task_are_limited_on_create_bulk_and_change(app, client, admin_headers) -> None:
    with in_app(app) as session:
        make_template(session, "tpl")
        task_id = make_task(session, users=["admin"]).id
    many = [f"t{i}" for i in range(checks.TAGS_PER_TASK_MAX + 1)]
    task = {"project": "p", "template": "tpl", "content": "x", "users": ["admin"]}
    _refused(
        client.post("/api/v1/tasks", json={**task, "tags": many}, headers=admin_headers), "tags"
    )
    bulk = [task, {**task, "tags": many}]
    _refused(client.post("/api/v1/tasks", json=bulk, headers=admin_headers), "1.tags")
    url = f"/api/v1/tasks/{task_id}"
    _refused(client.put(url, json={"tags": many}, headers=admin_headers), "tags")
    for name in ("tags", "users", "groups"):  # lists are emptied with [], never null
        _refused(client.put(url, json={name: None}, headers=admin_headers), name)


def test_tag_filters_are_limited(app, client, admin_headers) -> None:
    allowed = [f"t{i}" for i in range(tags.FILTERS_MAX)]
    too_many = [*allowed, "one-more"]
    query = "&".join(f"tag={name}" for name in too_many)
    _refused(client.get(f"/api/v1/tasks?{query}", headers=admin_headers), "tag")
    _refused(
        client.post("/api/v1/tasks/next", json={"tag": too_many}, headers=admin_headers), "tag"
    )
    answer = client.post("/api/v1/tasks/next", json={"tag": allowed}, headers=admin_headers)
    assert answer.status_code == 204


def test_task_group_members_are_limited(app, client, admin_headers) -> None:
    with in_app(app) as session:
        admin = resolution.resolve_users(session, ["admin"])["admin"]
        taskgroup_changes.create(session, actor=admin, label="g")
    members = list(range(1, creation.BULK_CREATE_MAX + 2))
    _refused(
        client.put("/api/v1/taskgroups/g", json={"tasks": members}, headers=admin_headers), "tasks"
    )


def test_task_strings_longer_than_their_column_are_refused(app, client, admin_headers) -> None:
    """Every text a task stores, on create and on change: 400 naming the field."""
    with in_app(app) as session:
        make_template(session, "tpl")
        task_id = make_task(session, users=["admin"]).id
    given_as = {"raw_callback_url": "callback_url", "raw_content": "content"}
    task = {"project": "p", "template": "tpl", "content": "x", "users": ["admin"]}
    for column_name, column in checks.COLUMNS.items():
        length = validation.max_length(column)
        too_long = "x" * (length + 1 if length else validation.TEXT_MAX_BYTES + 1)
        for field in {column_name, given_as.get(column_name, column_name)}:
            if field != "status":
                created = client.post(
                    "/api/v1/tasks", json={**task, field: too_long}, headers=admin_headers
                )
                _refused(created, field)
            changed = client.put(
                f"/api/v1/tasks/{task_id}", json={field: too_long}, headers=admin_headers
            )
            _refused(changed, field)
    # Filters longer than any stored value simply match nothing.
    long = "x" * 5000
    listed = client.get(f"/api/v1/tasks?project={long}&tag={long}", headers=admin_headers)
    assert listed.status_code == 200 and listed.get_json()["total_tasks"] == 0
    claim = client.post("/api/v1/tasks/next", json={"project": long}, headers=admin_headers)
    assert claim.status_code == 204


def test_every_list_caps_its_limit(app, client, admin_headers) -> None:
    """Each route documented with a `limit` answers a huge one with a page of at most the cap."""
    with in_app(app) as session:
        make_template(session, "tpl")
        task = make_task(session, users=["admin"], tags=["t"])
        groups.create(session, groupname="g")
        callbacks.enqueue(session, url="http://127.0.0.1:9/", body=None, task_id=task.id)
        values = {"task_id": task.id, "user_id": "admin", "group_id": "g", "tag_id": "t"}
    spec = client.get("/api/v1/openapi.json").get_json()
    checked = []
    for path, operations in spec["paths"].items():
        parameters = operations.get("get", {}).get("parameters", [])
        if not any(p["name"] == "limit" and p["in"] == "query" for p in parameters):
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)
        response = client.get(f"{url}?limit=999999999", headers=admin_headers)
        assert response.status_code == 200, (path, response.get_json())
        answer = response.get_json()
        # Task lists (which the official client reads whole) have their own, larger cap.
        tasks_listed = re.search(r"/(tasks|taskgroups|history)$", path)
        cap = paging.MAX_TASK_PAGE_SIZE if tasks_listed else paging.MAX_PAGE_SIZE
        assert answer["limit"] == cap, (path, answer["limit"])
        checked.append(path)
    assert "/api/v1/callbacks" in checked and "/api/v1/taskgroups" in checked
