"""Who may do what on the task routes: every role against every route and method.

Roles: admin, superuser, user (alice, acting on her own task and on bob's), a user without any
role, and an unauthenticated caller. Each row gives the expected status code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from taskmanager.models import db

from ..conftest import basic_auth
from ..support.task_factories import PASSWORD, make_group, make_task, make_template, make_user

ROLES = ("admin", "superuser", "user", "norole", "anonymous")
HEADERS = {
    "admin": basic_auth("admin", "admin"),
    "superuser": basic_auth("sue", PASSWORD),
    "user": basic_auth("alice", PASSWORD),
    "norole": basic_auth("nora", PASSWORD),
    "anonymous": {},
}
NEW_TASK = {"project": "p", "template": "tpl", "content": "x", "users": ["alice"]}

# (method, path, body, {role: status}); {own} is a fresh task of alice's, {other} one of bob's,
# {alice}/{bob} user ids, {team} alice's group, {others} bob's group, {tag} a tag on both tasks.
MATRIX: list[tuple[str, str, Any, dict[str, int]]] = [
    ("GET", "/tasks", None, {"admin": 200, "superuser": 200, "user": 200}),
    ("POST", "/tasks", NEW_TASK, {"admin": 201, "superuser": 403, "user": 403}),
    ("POST", "/tasks", [NEW_TASK], {"admin": 201, "superuser": 403, "user": 403}),
    ("GET", "/tasks/{own}", None, {"admin": 200, "superuser": 200, "user": 200}),
    ("GET", "/tasks/{other}", None, {"admin": 200, "superuser": 200, "user": 404}),
    ("PUT", "/tasks/{own}", {"status": "done"}, {"admin": 200, "superuser": 200, "user": 200}),
    ("PUT", "/tasks/{other}", {"status": "done"}, {"admin": 200, "superuser": 200, "user": 404}),
    ("PUT", "/tasks/{own}", {"users": ["bob"]}, {"admin": 200, "superuser": 200, "user": 403}),
    ("PUT", "/tasks/{own}", {"groups": []}, {"admin": 200, "superuser": 200, "user": 403}),
    ("PUT", "/tasks/{own}", {"project": "q"}, {"admin": 200, "superuser": 403, "user": 403}),
    ("PUT", "/tasks/{own}", {"tags": ["z"]}, {"admin": 200, "superuser": 403, "user": 403}),
    ("PUT", "/tasks/{own}", {"content": "y"}, {"admin": 200, "superuser": 403, "user": 403}),
    ("DELETE", "/tasks/{own}", None, {"admin": 200, "superuser": 403, "user": 403}),
    ("DELETE", "/tasks/{other}", None, {"admin": 200, "superuser": 403, "user": 403}),
    ("GET", "/task-at-timepoint/{own}", None, {"admin": 200, "superuser": 200, "user": 200}),
    ("GET", "/task-at-timepoint/{other}", None, {"admin": 200, "superuser": 200, "user": 404}),
    ("GET", "/tasks/{own}/history", None, {"admin": 200, "superuser": 200, "user": 200}),
    ("GET", "/tasks/{other}/history", None, {"admin": 200, "superuser": 200, "user": 404}),
    ("GET", "/users/{alice}/tasks", None, {"admin": 200, "superuser": 200, "user": 200}),
    ("GET", "/users/{bob}/tasks", None, {"admin": 200, "superuser": 200, "user": 403}),
    ("GET", "/groups/{team}/tasks", None, {"admin": 200, "superuser": 200, "user": 200}),
    ("GET", "/groups/{others}/tasks", None, {"admin": 200, "superuser": 200, "user": 403}),
    ("GET", "/tags/{tag}/tasks", None, {"admin": 200, "superuser": 200, "user": 200}),
]


def _expected(role: str, codes: dict[str, int]) -> int:
    if role == "anonymous":
        return 401
    if role == "norole":
        return 403
    return codes[role]


@pytest.fixture
def fresh_ids(app) -> Callable[[], dict[str, Any]]:
    """Set up the people once; each call makes a fresh own and other task (rows may change)."""
    with app.app_context():
        session = db.session
        make_template(session, "tpl")
        alice = make_user(session, "alice")
        bob = make_user(session, "bob")
        make_user(session, "sue", roles=["superuser"])
        make_user(session, "nora", roles=[])
        team = make_group(session, "team", [alice])
        others = make_group(session, "others", [bob])
        session.commit()
        people = {"alice": alice.id, "bob": bob.id, "team": team.id, "others": others.id}

    def make() -> dict[str, Any]:
        with app.app_context():
            own = make_task(db.session, users=["alice"], tags=["shared"])
            other = make_task(db.session, users=["bob"], tags=["shared"])
            db.session.commit()
            tag_id = own.tags[0].id
            return {**people, "own": own.id, "other": other.id, "tag": tag_id}

    return make


@pytest.mark.parametrize("role", ROLES)
def test_authorisation_matrix(client, fresh_ids, role) -> None:
    mismatches = []
    for method, path, body, codes in MATRIX:
        url = "/api/v1" + path.format(**fresh_ids())
        response = client.open(url, method=method, json=body, headers=HEADERS[role])
        expected = _expected(role, codes)
        if response.status_code != expected:
            mismatches.append(f"{method} {path}: {response.status_code}, expected {expected}")
        if response.status_code == 401:
            assert response.headers["WWW-Authenticate"].startswith("Basic")
        if response.status_code >= 400:
            assert isinstance(response.get_json()["message"], str)
    assert not mismatches, "\n".join(mismatches)
