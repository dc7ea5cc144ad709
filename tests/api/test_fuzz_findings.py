"""Defects the schemathesis run (fuzz/) found, kept fixed on every database: odd input answers a
4xx naming the field, and every answer's status code is in the OpenAPI document. (It also found
the unbounded tag filters and the null task lists: tests/api/test_limits.py holds those.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from taskmanager.models import CallbackDelivery, db

from ..conftest import basic_auth
from ..support.callbacks import make_tasks
from ..support.task_factories import PASSWORD, make_group, make_task, make_template, make_user

BEYOND_IDS = 2**53  # no id column (32-bit) holds it; PostgreSQL refused it with a DataError
BEYOND_BIGINT = 2**64  # nor does an OFFSET (64-bit)


def _documented(client: Any, method: str, path: str) -> set[int]:
    spec = client.get("/api/v1/openapi.json").get_json()
    return {int(code) for code in spec["paths"][path][method.lower()]["responses"]}


def _fields(response: Any) -> set[str]:
    return set(response.get_json().get("errors", {}))


def test_callback_ids_beyond_any_id_are_unknown(app, client, admin_headers) -> None:
    with app.app_context():
        make_tasks(db.session, 1, "http://127.0.0.1:9")
        known = db.session.scalars(select(CallbackDelivery.id)).one()
    for method, url in (
        ("GET", f"/api/v1/callbacks/{BEYOND_IDS}"),
        ("POST", f"/api/v1/callbacks/{BEYOND_IDS}/retry"),
    ):
        response = client.open(url, method=method, headers=admin_headers)
        # No route takes a number no id column holds (api/errors.py IdConverter).
        assert response.status_code == 404, url
        assert response.get_json()["message"]
    assert client.get(f"/api/v1/callbacks/{known}", headers=admin_headers).status_code == 200


def test_callback_filters_beyond_any_id_name_the_field(client, admin_headers) -> None:
    for name in ("task", "taskgroup", "offset"):
        response = client.get(f"/api/v1/callbacks?{name}={BEYOND_IDS}", headers=admin_headers)
        assert response.status_code == 400, name
        assert _fields(response) == {f"query.{name}"}


def test_taskgroup_offset_beyond_any_row_names_the_field(client, admin_headers) -> None:
    response = client.get(f"/api/v1/taskgroups?offset={BEYOND_BIGINT}", headers=admin_headers)
    assert response.status_code == 400 and _fields(response) == {"query.offset"}
    reduced = client.get(f"/api/v1/taskgroups?limit={BEYOND_BIGINT}", headers=admin_headers)
    assert reduced.status_code == 200


def test_refusals_are_documented(app, client, admin_headers) -> None:
    """A plain user's 403s, and the 404 of an unknown group to distribute a task group in."""
    with app.app_context():
        make_template(db.session, "tpl")
        alice = make_user(db.session, "alice")
        make_group(db.session, "team", [alice])
        task_id = make_task(db.session, users=["alice"]).id
        db.session.commit()
    alice_headers = basic_auth("alice", PASSWORD)
    calls = [
        ("POST", "/api/v1/tasks", "/api/v1/tasks", {"project": "p", "template": "tpl"}, 403),
        ("DELETE", f"/api/v1/tasks/{task_id}", "/api/v1/tasks/{task_id}", None, 403),
        ("GET", "/api/v1/callbacks", "/api/v1/callbacks", None, 403),
        ("GET", "/api/v1/callbacks/1", "/api/v1/callbacks/{callback_id}", None, 403),
        ("POST", "/api/v1/taskgroups", "/api/v1/taskgroups", {"label": "g"}, 403),
        ("PUT", "/api/v1/taskgroups/g", "/api/v1/taskgroups/{reference}", {}, 403),
    ]
    for method, url, path, body, status in calls:
        response = client.open(url, method=method, json=body, headers=alice_headers)
        assert response.status_code == status, url
        assert status in _documented(client, method, path), f"{method} {path}"

    unknown_group = {"label": "g", "tasks": [], "distribute_in_group": "nobody"}
    response = client.post("/api/v1/taskgroups", json=unknown_group, headers=admin_headers)
    assert response.status_code == 404 and _fields(response) == {"distribute_in_group"}
    assert 404 in _documented(client, "POST", "/api/v1/taskgroups")
