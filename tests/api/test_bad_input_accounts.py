"""Bad input to the accounts routes answers 4xx with a JSON message: never a 500, never a
partial write."""

from __future__ import annotations

import pytest

from taskmanager.services.accounts import groups
from taskmanager.services.metadata import meta
from taskmanager.services.reference import tags, templates

from ..support.accounts import headers, in_app, make_user

WRITE_ROUTES = [
    ("POST", "/api/v1/users"),
    ("PUT", "/api/v1/users/uma"),
    ("POST", "/api/v1/groups"),
    ("PUT", "/api/v1/groups/team"),
    ("POST", "/api/v1/tags"),
    ("PUT", "/api/v1/tags/tag"),
    ("POST", "/api/v1/task_templates"),
    ("PUT", "/api/v1/task_templates/tpl"),
    ("POST", "/api/v1/meta"),
    ("PUT", "/api/v1/meta/M"),
    ("POST", "/api/v1/service/config/import-config"),
    ("PUT", "/api/v1/service/config/import-config"),
]
LONG = "x" * 70_000
BODIES = [
    b"{not json",
    b"[1, 2]",
    b'"text"',
    b"NaN",
    b'{"username": "' + LONG.encode() + b'", "email": "' + LONG.encode() + b'", "password": "p", '
    b'"groupname": "'
    + LONG.encode()
    + b'", "name": "'
    + LONG.encode()
    + b'", "label": "'
    + LONG.encode()
    + b'", "value": "'
    + LONG.encode()
    + b'", "content": "'
    + LONG.encode()
    + b'", '
    b'"config_definition": "' + LONG.encode() + b'"}',
    b'{"username": "a\\u0000b", "email": "a\\u0000@b", "password": "\\u0000", "groupname": '
    b'"\\u0000", "name": "\\u0000", "label": "\\u0000", "value": "\\u0000", "content": "\\u0000", '
    b'"config_definition": "tags: [\\"\\u0000\\"]"}',
    b'{"username": 5, "email": [], "password": {}, "groupname": 1.5, "name": true, "label": [], '
    b'"value": {}, "content": 7, "config_definition": 3, "users": "uma", "active": "maybe", '
    b'"assignment_weight": "heavy"}',
    b'{"assignment_weight": 1e400, "users": [99999999999999999999999], "username": "", '
    b'"groupname": "", "label": "", "name": ""}',
    b'{"assignment_weight": NaN, "username": NaN, "groupname": NaN, "label": NaN, "name": NaN, '
    b'"value": NaN, "content": NaN, "config_definition": NaN, "email": NaN}',
    b'{"users": [null], "groupname": "a/b", "label": "a/b", "username": "a/b", "name": "\\u0000", '
    b'"value": Infinity, "content": "a: [b", "config_definition": "a: [b"}',
]
# Only the config routes read these (elsewhere they are unknown fields, ignored).
CONFIG_BODIES = [
    b'{"config_definition": "users: [{username: x, email: x@y, password: p, roles: 5}]"}',
    b'{"config_definition": "groups: [{groupname: g, members: uma}]"}',
    b'{"config_definition": "roles: [{name: r, permissions: task_read}]"}',
    b'{"config_definition": "users: [{username: x, email: x@y, password: p, assignment_weight: -1}]"}',
]


@pytest.fixture
def world(app) -> None:
    with in_app(app) as session:
        uma = make_user(session, "uma", "user")
        groups.create(session, groupname="team", users=[uma])
        tags.create(session, name="tag")
        templates.create(session, label="tpl", content={})
        meta.create(session, label="M", value="v")


def _snapshot(client) -> dict:
    admin = headers("admin")
    return {
        path: client.get(path, headers=admin).get_json()
        for path in (
            "/api/v1/users",
            "/api/v1/users/uma",
            "/api/v1/groups",
            "/api/v1/groups/team",
            "/api/v1/groups/team/users",
            "/api/v1/tags",
            "/api/v1/task_templates",
            "/api/v1/task_templates/tpl",
            "/api/v1/meta",
            "/api/v1/roles",
        )
    }


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
def test_bad_bodies_answer_4xx_and_change_nothing(client, world, method, path) -> None:
    before = _snapshot(client)
    for body in BODIES + (CONFIG_BODIES if "import-config" in path else []):
        response = client.open(
            path,
            method=method,
            data=body,
            content_type="application/json",
            headers=headers("admin"),
        )
        assert 400 <= response.status_code < 500, (
            body[:80],
            response.status_code,
            response.data[:300],
        )
        assert "message" in response.get_json(), body[:80]
    assert _snapshot(client) == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/99999999999999999999",
        "/api/v1/users/%00",
        "/api/v1/groups/-1",
        "/api/v1/tags/0",
        "/api/v1/task_templates/%C3%A9%00",
        "/api/v1/meta/" + "x" * 5000,
        "/api/v1/roles/99999999999",
        "/api/v1/users?offset=99999999999999999999",
        "/api/v1/users?limit=abc",
        "/api/v1/groups/team/users?offset=-1",
    ],
)
def test_bad_references_answer_4xx(client, world, path) -> None:
    response = client.get(path, headers=headers("admin"))
    assert response.status_code in (400, 404), response.data[:300]
    assert "message" in response.get_json()
