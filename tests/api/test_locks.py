from datetime import timedelta

import pytest
from sqlalchemy import update

from taskmanager.models import Task, db, utcnow
from taskmanager.services.accounts import users

from ..conftest import basic_auth
from ..support import rows
from ..support.task_factories import PASSWORD, make_user

ANN = basic_auth("ann", PASSWORD)
BOB = basic_auth("bob", PASSWORD)
SUE = basic_auth("sue", PASSWORD)
FREE = {"lock": None, "username": None, "error": None}


@pytest.fixture
def task_id(app) -> int:
    """A task assigned to ann and bob; sue is a superuser, carl has nothing to do with it."""
    with app.app_context():
        ann = make_user(db.session, "ann")
        bob = make_user(db.session, "bob")
        make_user(db.session, "sue", roles=["superuser"])
        make_user(db.session, "carl")
        task = rows.task(db.session, assignees=[ann, bob])
        db.session.commit()
        return task.id


def _user_uri(app, username: str) -> str:
    with app.app_context():
        return f"/api/v1/users/{users.get_or_raise(db.session, reference=username).id}"


def test_lock_unlock_round_trip(client, app, task_id) -> None:
    url = f"/api/v1/tasks/{task_id}/lock"
    assert client.get(url, headers=ANN).get_json() == FREE
    ann = {"lock": _user_uri(app, "ann"), "username": "ann", "error": None}
    # No body, an empty JSON body, `{}` and naming oneself all lock to the caller.
    assert client.put(url, headers=ANN).get_json() == ann
    response = client.put(url, headers={**ANN, "Content-Type": "application/json"}, data="")
    assert (response.status_code, response.get_json()) == (200, ann)
    assert client.put(url, headers=ANN, json={}).get_json() == ann
    assert client.put(url, headers=ANN, json={"lock": "ann"}).get_json() == ann
    assert client.get(url, headers=BOB).get_json() == ann
    conflict = client.put(url, headers=BOB)
    assert conflict.status_code == 409
    assert conflict.get_json()["lock"] == ann["lock"]
    assert conflict.get_json()["username"] == "ann"
    assert conflict.get_json()["error"] == "Task already locked!"
    refused = client.delete(url, headers=BOB)
    assert refused.status_code == 403 and refused.get_json()["error"]
    released = client.delete(url, headers=ANN)
    assert (released.status_code, released.get_json()) == (200, FREE)
    assert client.put(url, headers=BOB).get_json()["username"] == "bob"


def test_locking_for_others_needs_lock_all_rights(client, app, task_id) -> None:
    url = f"/api/v1/tasks/{task_id}/lock"
    refused = client.put(url, headers=ANN, json={"lock": "bob"})
    assert refused.status_code == 403
    assert refused.get_json()["error"].startswith("Locking a task to another user")
    bob_id = _user_uri(app, "bob").rsplit("/", 1)[-1]
    moved = client.put(url, headers=SUE, json={"lock": int(bob_id)})
    assert moved.status_code == 200 and moved.get_json()["username"] == "bob"
    moved = client.put(url, headers=basic_auth("admin", "admin"), json={"lock": "ann"})
    assert moved.get_json()["username"] == "ann"
    assert client.delete(url, headers=SUE).get_json() == FREE


def test_unknown_or_invisible_task_and_unknown_user(client, task_id) -> None:
    assert client.get("/api/v1/tasks/999999/lock", headers=ANN).status_code == 404
    carl = basic_auth("carl", PASSWORD)
    for method in (client.get, client.put, client.delete):
        response = method(f"/api/v1/tasks/{task_id}/lock", headers=carl)
        assert response.status_code == 404
        assert response.get_json()["error"]
    unknown = client.put(f"/api/v1/tasks/{task_id}/lock", headers=SUE, json={"lock": "nobody"})
    assert unknown.status_code == 404 and "nobody" in unknown.get_json()["error"]
    bad = client.put(
        f"/api/v1/tasks/{task_id}/lock",
        headers={**ANN, "Content-Type": "application/json"},
        data="{not json",
    )
    assert bad.status_code == 400
    assert client.get(f"/api/v1/tasks/{task_id}/lock").status_code == 401


def test_leases_lapse(app, task_id) -> None:
    settings = app.extensions["taskman_settings"]
    app.extensions["taskman_settings"] = settings.model_copy(update={"lock_timeout": 30.0})
    try:
        client = app.test_client()
        url = f"/api/v1/tasks/{task_id}/lock"
        assert client.put(url, headers=ANN).status_code == 200
        assert client.put(url, headers=BOB).status_code == 409
        with app.app_context():
            db.session.execute(
                update(Task)
                .where(Task.id == task_id)
                .values(lock_time=utcnow() - timedelta(seconds=31))
            )
            db.session.commit()
        assert client.get(url, headers=BOB).get_json() == FREE
        assert client.put(url, headers=BOB).get_json()["username"] == "bob"
    finally:
        app.extensions["taskman_settings"] = settings


def test_claim_next(client, app, task_id) -> None:
    with app.app_context():
        ann = users.get_or_raise(db.session, reference="ann")
        later = rows.tasks(db.session, 2, assignees=[ann], project="other")
        db.session.commit()
    first = client.post("/api/v1/tasks/next", headers=ANN)
    assert first.status_code == 200
    assert first.get_json() == {
        "uri": f"/api/v1/tasks/{task_id}",
        "id": str(task_id),
        "project": "p",
        "status": "queued",
        "template": first.get_json()["template"],
        "lock": f"/api/v1/tasks/{task_id}/lock",
        "username": "ann",
    }
    assert client.get(f"/api/v1/tasks/{task_id}/lock", headers=BOB).get_json()["username"] == "ann"
    # Filters in the body or in the query string.
    assert client.post("/api/v1/tasks/next", headers=ANN, json={"project": "p"}).status_code == 204
    second = client.post("/api/v1/tasks/next?project=other", headers=ANN)
    assert second.get_json()["id"] == str(later[0])
    third = client.post("/api/v1/tasks/next", headers=ANN, json={})
    assert third.get_json()["id"] == str(later[1])
    nothing = client.post("/api/v1/tasks/next", headers=ANN)
    assert nothing.status_code == 204 and nothing.data == b""
    assert client.post("/api/v1/tasks/next", headers=BOB).status_code == 204


def test_routes_are_documented(client) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/tasks/{task_id}/lock"]) >= {"get", "put", "delete"}
    claim = paths["/api/v1/tasks/next"]["post"]
    assert {"200", "204"} <= set(claim["responses"])
    assert "requestBody" in paths["/api/v1/tasks/{task_id}/lock"]["put"]
