"""Authorisation matrix of the accounts routes: every role x route x method, with the status code
the spec gives (own versus someone else's object where that matters).

Roles: admin, superuser, user, and no credentials at all. Within a resource, rows run in order
and each row asks as anonymous, user, superuser, then admin, so that requests which succeed (and
change data) come last; deleting rows close each resource.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from taskmanager.services import groups, meta, tags, templates

from ..support.accounts import headers, in_app, make_user

ANON, USER, SUPER, ADMIN = "anonymous", "user", "superuser", "admin"
CALLERS = {ANON: None, USER: "uma", SUPER: "boss", ADMIN: "admin"}

Body = Callable[[str], Any] | None
Row = tuple[str, str, Body, dict[str, int]]


def codes(user: int, superuser: int, admin: int) -> dict[str, int]:
    return {ANON: 401, USER: user, SUPER: superuser, ADMIN: admin}


def config(role: str) -> dict[str, str]:
    return {"config_definition": f"tags: [cfg-{role}]"}


MATRIX: dict[str, list[Row]] = {
    "users": [
        ("GET", "/api/v1/users", None, codes(403, 200, 200)),
        ("GET", "/api/v1/users/{self}", None, codes(200, 200, 200)),
        ("GET", "/api/v1/users/{other}", None, codes(403, 200, 200)),
        ("GET", "/api/v1/users/{self}/groups", None, codes(200, 200, 200)),
        ("GET", "/api/v1/users/{other}/groups", None, codes(403, 200, 200)),
        (
            "POST",
            "/api/v1/users",
            lambda role: {
                "username": f"new-{role}",
                "password": "password1",
                "email": f"{role}@x.org",
            },
            codes(403, 403, 201),
        ),
        ("PUT", "/api/v1/users/{self}", lambda role: {"name": f"me-{role}"}, codes(403, 403, 200)),
        ("PUT", "/api/v1/users/{other}", lambda role: {"name": role}, codes(403, 403, 200)),
        (
            "PUT",
            "/api/v1/users/{other}",
            lambda role: {"assignment_weight": 2},
            codes(403, 200, 200),
        ),
        ("PUT", "/api/v1/users/{other}/roles/superuser", None, codes(403, 403, 200)),
        ("DELETE", "/api/v1/users/{other}/roles/superuser", None, codes(403, 403, 200)),
        ("DELETE", "/api/v1/users/{other}", None, codes(403, 403, 200)),
    ],
    "groups": [
        ("GET", "/api/v1/groups", None, codes(403, 200, 200)),
        ("GET", "/api/v1/groups/{mine}", None, codes(200, 200, 200)),
        ("GET", "/api/v1/groups/{theirs}", None, codes(403, 200, 200)),
        ("GET", "/api/v1/groups/{mine}/users", None, codes(200, 200, 200)),
        ("GET", "/api/v1/groups/{theirs}/users", None, codes(403, 200, 200)),
        ("POST", "/api/v1/groups", lambda role: {"groupname": f"g-{role}"}, codes(403, 403, 201)),
        ("PUT", "/api/v1/groups/{mine}", lambda role: {"name": f"n-{role}"}, codes(403, 200, 200)),
        (
            "PUT",
            "/api/v1/groups/{theirs}",
            lambda role: {"name": f"t-{role}"},
            codes(403, 200, 200),
        ),
        ("PUT", "/api/v1/groups/{theirs}/users/{self}", None, codes(403, 200, 200)),
        ("DELETE", "/api/v1/groups/{theirs}/users/{other}", None, codes(403, 200, 200)),
        ("DELETE", "/api/v1/groups/{theirs}", None, codes(403, 403, 200)),
    ],
    "roles": [
        ("GET", "/api/v1/roles", None, codes(403, 403, 200)),
        ("GET", "/api/v1/roles/user", None, codes(403, 403, 200)),
    ],
    "templates": [
        ("GET", "/api/v1/task_templates", None, codes(200, 200, 200)),
        ("GET", "/api/v1/task_templates/{template}", None, codes(200, 200, 200)),
        (
            "POST",
            "/api/v1/task_templates",
            lambda role: {"label": f"tpl-{role}", "content": {}},
            codes(403, 403, 201),
        ),
        (
            "PUT",
            "/api/v1/task_templates/{template}",
            lambda role: {"content": {"by": role}},
            codes(403, 403, 200),
        ),
        ("DELETE", "/api/v1/task_templates/{template}", None, codes(403, 403, 200)),
    ],
    "tags": [
        ("GET", "/api/v1/tags", None, codes(200, 200, 200)),
        ("GET", "/api/v1/tags/{tag}", None, codes(200, 200, 200)),
        ("POST", "/api/v1/tags", lambda role: {"name": f"new-{role}"}, codes(403, 201, 201)),
        ("PUT", "/api/v1/tags/{tag}", lambda role: {"name": f"re-{role}"}, codes(403, 200, 200)),
        ("DELETE", "/api/v1/tags/{tag}", None, codes(403, 403, 200)),
    ],
    "meta": [
        ("GET", "/api/v1/meta", None, codes(403, 403, 200)),
        ("GET", "/api/v1/meta/{meta}", None, codes(403, 403, 200)),
        (
            "POST",
            "/api/v1/meta",
            lambda role: {"label": f"L_{role}", "value": "v"},
            codes(403, 403, 201),
        ),
        ("PUT", "/api/v1/meta/{meta}", lambda role: {"value": role}, codes(403, 403, 200)),
    ],
    "config service": [
        ("POST", "/api/v1/service/config/import-config", config, codes(403, 403, 201)),
        ("PUT", "/api/v1/service/config/import-config", config, codes(403, 403, 200)),
    ],
}


def _objects(app) -> dict[str, Any]:
    with in_app(app) as session:
        boss = make_user(session, "boss", "superuser")
        uma = make_user(session, "uma", "user")
        other = make_user(session, "other", "user")
        return {
            "other": other.id,
            "mine": groups.create(session, groupname="mine", users=[uma, boss]).id,
            "theirs": groups.create(session, groupname="theirs", users=[other]).id,
            "template": templates.create(session, label="tpl", content={}).id,
            "tag": tags.create(session, name="tag").id,
            "meta": meta.create(session, label="M", value="v").id,
        }


@pytest.mark.parametrize("resource", list(MATRIX))
def test_authorisation_matrix(client, app, resource: str) -> None:
    objects = _objects(app)
    mismatches = []
    for method, path, body, expected in MATRIX[resource]:
        for role in (ANON, USER, SUPER, ADMIN):
            username = CALLERS[role]
            url = path.format(**objects, self=username or "uma")
            response = client.open(
                url,
                method=method,
                json=body(role) if body else None,
                headers=headers(username) if username else {},
            )
            if response.status_code != expected[role]:
                mismatches.append(
                    f"{role:>10} {method} {url}: {response.status_code}, expected "
                    f"{expected[role]} {response.get_json()}"
                )
            response.close()
    assert not mismatches, "\n".join(mismatches)
