"""Contract of the users routes: status codes, field names and types as the spec gives them."""

from datetime import datetime

from flask_security.utils import verify_password
from sqlalchemy import select

from taskmanager.models import User
from taskmanager.services.accounts import groups

from ..support.accounts import assert_shape, headers, in_app, make_user

USER_DETAIL = {
    "username": str,
    "uri": str,
    "name": (str, type(None)),
    "active": bool,
    "email": str,
    "create_time": str,
    "assignment_weight": float,
    "tasks": str,
    "groups": str,
    "id": int,
}
LIST_KEYS = {"offset": int, "limit": int}


def _assert_user(body: dict) -> None:
    assert_shape(body, USER_DETAIL)
    assert body["uri"] == f"/api/v1/users/{body['id']}"
    assert body["tasks"] == body["uri"] + "/tasks"
    assert body["groups"] == body["uri"] + "/groups"
    assert datetime.fromisoformat(body["create_time"]).tzinfo is not None


def test_list_users(client, app) -> None:
    with in_app(app) as session:
        for name in ("u1", "u2", "u3"):
            make_user(session, name, "user", commit=False)
    response = client.get("/api/v1/users", headers=headers("admin"))
    assert response.status_code == 200
    body = response.get_json()
    assert_shape(body, {"users": list, "total_users": int, **LIST_KEYS})
    assert body["total_users"] == 4 and len(body["users"]) == 4
    ids = [int(uri.rsplit("/", 1)[1]) for uri in body["users"]]
    assert ids == sorted(ids) and all(uri.startswith("/api/v1/users/") for uri in body["users"])
    page = client.get("/api/v1/users?offset=1&limit=2", headers=headers("admin")).get_json()
    assert page["users"] == body["users"][1:3]
    assert (page["total_users"], page["offset"], page["limit"]) == (4, 1, 2)
    capped = client.get("/api/v1/users?limit=1000000", headers=headers("admin")).get_json()
    assert capped["limit"] == 1000
    assert client.get("/api/v1/users?limit=-1", headers=headers("admin")).status_code == 400
    bad = client.get("/api/v1/users?offset=x", headers=headers("admin"))
    assert bad.status_code == 400 and "query.offset" in bad.get_json()["errors"]


def test_create_user(client) -> None:
    body = {
        "username": "carol",
        "password": "password1",
        "name": "Carol",
        "email": "carol@example.org",
    }
    response = client.post("/api/v1/users", json=body, headers=headers("admin"))
    assert response.status_code == 201
    created = response.get_json()
    _assert_user(created)
    assert (created["username"], created["active"], created["assignment_weight"]) == (
        "carol",
        True,
        1.0,
    )
    # The new account works, with the `user` role.
    assert (
        client.get("/api/v1/users/carol", headers=_basic("carol", "password1")).status_code == 200
    )
    again = client.post("/api/v1/users", json=body, headers=headers("admin"))
    assert again.status_code == 409 and "username" in again.get_json()["errors"]
    too_long = client.post(
        "/api/v1/users", json={**body, "username": "x" * 65}, headers=headers("admin")
    )
    assert too_long.status_code == 400 and "username" in too_long.get_json()["errors"]
    missing = client.post("/api/v1/users", json={"username": "d"}, headers=headers("admin"))
    assert missing.status_code == 400
    assert {"password", "email"} <= set(missing.get_json()["errors"])


def test_create_user_with_roles(client) -> None:
    body = {
        "username": "s",
        "password": "password1",
        "email": "s@example.org",
        "roles": ["superuser"],
    }
    response = client.post("/api/v1/users", json=body, headers=headers("admin"))
    assert response.status_code == 201
    listing = client.get("/api/v1/users", headers=_basic("s", "password1"))
    assert listing.status_code == 200  # superuser has user_read_all
    unknown = {**body, "username": "t", "email": "t@example.org", "roles": ["wizard"]}
    assert client.post("/api/v1/users", json=unknown, headers=headers("admin")).status_code == 404


def test_get_user(client, app) -> None:
    with in_app(app) as session:
        uma_id = make_user(session, "uma", "user").id
        admin_id = session.scalars(select(User.id).where(User.username == "admin")).one()
    for reference in (uma_id, "uma", "uma@example.org"):
        response = client.get(f"/api/v1/users/{reference}", headers=headers("admin"))
        assert response.status_code == 200
        _assert_user(response.get_json())
    assert client.get("/api/v1/users/nobody", headers=headers("admin")).status_code == 404
    assert client.get(f"/api/v1/users/{admin_id}", headers=headers("uma")).status_code == 403
    assert client.get(f"/api/v1/users/{uma_id}", headers=headers("uma")).status_code == 200


def test_update_user(client, app) -> None:
    with in_app(app) as session:
        make_user(session, "uma", "user")
    changes = {"name": "Uma U", "email": "uma2@example.org", "assignment_weight": 2.5}
    response = client.put("/api/v1/users/uma", json=changes, headers=headers("admin"))
    assert response.status_code == 200
    body = response.get_json()
    _assert_user(body)
    assert (body["name"], body["email"], body["assignment_weight"]) == (
        "Uma U",
        "uma2@example.org",
        2.5,
    )
    # The password is stored hashed (the old server stored it as sent).
    response = client.put(
        "/api/v1/users/uma", json={"password": "new-password"}, headers=headers("admin")
    )
    assert response.status_code == 200
    with in_app(app) as session:
        stored = session.scalars(select(User.password).where(User.username == "uma")).one()
        assert stored != "new-password" and verify_password("new-password", stored)
    assert client.get("/api/v1/users/uma", headers=_basic("uma", "new-password")).status_code == 200
    bad = client.put("/api/v1/users/uma", json={"assignment_weight": -1}, headers=headers("admin"))
    assert bad.status_code == 400 and "assignment_weight" in bad.get_json()["errors"]
    assert client.put("/api/v1/users/ghost", json={}, headers=headers("admin")).status_code == 404


def test_update_names_the_forbidden_field_and_changes_nothing(client, app) -> None:
    with in_app(app) as session:
        make_user(session, "boss", "superuser")
        make_user(session, "uma", "user")
    response = client.put(
        "/api/v1/users/uma",
        json={"assignment_weight": 3, "name": "Renamed"},
        headers=headers("boss"),
    )
    assert response.status_code == 403
    body = response.get_json()
    assert list(body["errors"]) == ["name"] and "message" in body
    with in_app(app) as session:
        uma = session.scalars(select(User).where(User.username == "uma")).one()
        assert (uma.assignment_weight, uma.name) == (1.0, "uma")
    ok = client.put("/api/v1/users/uma", json={"assignment_weight": 3}, headers=headers("boss"))
    assert ok.status_code == 200 and ok.get_json()["assignment_weight"] == 3.0


def test_delete_user_deactivates(client, app) -> None:
    with in_app(app) as session:
        make_user(session, "uma", "user")
    response = client.delete("/api/v1/users/uma", headers=headers("admin"))
    assert response.status_code == 200
    _assert_user(response.get_json())
    assert response.get_json()["active"] is False
    assert client.get("/api/v1/users/uma", headers=headers("admin")).get_json()["active"] is False
    assert client.get("/api/v1/users/uma", headers=headers("uma")).status_code == 401
    last_admin = client.delete("/api/v1/users/admin", headers=headers("admin"))
    assert last_admin.status_code == 409 and "message" in last_admin.get_json()


def test_user_roles(client, app) -> None:
    with in_app(app) as session:
        uma_id = make_user(session, "uma", "user").id
    response = client.put("/api/v1/users/uma/roles/superuser", headers=headers("admin"))
    assert response.status_code == 200
    body = response.get_json()
    assert_shape(body, {"role": int, "user": int, "has_role": bool})
    assert body["user"] == uma_id and body["has_role"] is True
    assert client.get("/api/v1/users", headers=headers("uma")).status_code == 200
    response = client.delete(f"/api/v1/users/{uma_id}/roles/superuser", headers=headers("admin"))
    assert response.status_code == 200 and response.get_json()["has_role"] is False
    assert client.get("/api/v1/users", headers=headers("uma")).status_code == 403
    assert client.put("/api/v1/users/uma/roles/wizard", headers=headers("admin")).status_code == 404
    assert client.put("/api/v1/users/ghost/roles/user", headers=headers("admin")).status_code == 404
    last = client.delete("/api/v1/users/admin/roles/admin", headers=headers("admin"))
    assert last.status_code == 409


def test_user_groups(client, app) -> None:
    with in_app(app) as session:
        uma = make_user(session, "uma", "user")
        group_id = groups.create(session, groupname="readers", users=[uma]).id
    response = client.get("/api/v1/users/uma/groups", headers=headers("uma"))
    assert response.status_code == 200
    body = response.get_json()
    assert_shape(body, {"groups": list, "total_groups": int, **LIST_KEYS})
    assert body["groups"] == [f"/api/v1/groups/{group_id}"] and body["total_groups"] == 1


def _basic(username: str, password: str) -> dict[str, str]:
    from ..conftest import basic_auth

    return basic_auth(username, password)
