"""Contract of the groups routes, including the membership routes we add."""

from datetime import datetime

from taskmanager.services.accounts import groups

from ..support.accounts import assert_shape, headers, in_app, make_user

GROUP_DETAIL = {
    "groupname": str,
    "uri": str,
    "name": str,
    "create_time": str,
    "tasks": str,
    "users": str,
    "id": int,
}
LIST_KEYS = {"offset": int, "limit": int}


def _assert_group(body: dict) -> None:
    assert_shape(body, GROUP_DETAIL)
    assert body["uri"] == f"/api/v1/groups/{body['id']}"
    assert body["tasks"] == body["uri"] + "/tasks" and body["users"] == body["uri"] + "/users"
    datetime.fromisoformat(body["create_time"])


def _setup(app) -> dict[str, int]:
    with in_app(app) as session:
        uma = make_user(session, "uma", "user")
        other = make_user(session, "other", "user")
        mine = groups.create(session, groupname="mine", users=[uma])
        theirs = groups.create(session, groupname="theirs", users=[other])
        return {"uma": uma.id, "other": other.id, "mine": mine.id, "theirs": theirs.id}


def test_list_groups(client, app) -> None:
    ids = _setup(app)
    response = client.get("/api/v1/groups", headers=headers("admin"))
    assert response.status_code == 200
    body = response.get_json()
    assert_shape(body, {"groups": list, "total_groups": int, **LIST_KEYS})
    assert body["groups"] == [f"/api/v1/groups/{ids['mine']}", f"/api/v1/groups/{ids['theirs']}"]
    assert body["total_groups"] == 2
    page = client.get("/api/v1/groups?offset=1", headers=headers("admin")).get_json()
    assert page["groups"] == body["groups"][1:] and page["total_groups"] == 2


def test_create_group_with_members(client, app) -> None:
    ids = _setup(app)
    response = client.post(
        "/api/v1/groups",
        json={
            "groupname": "team",
            "name": "The team",
            "users": ["uma", f"/api/v1/users/{ids['other']}"],
        },
        headers=headers("admin"),
    )
    assert response.status_code == 201
    body = response.get_json()
    _assert_group(body)
    assert (body["groupname"], body["name"]) == ("team", "The team")
    members = client.get(body["users"], headers=headers("admin")).get_json()
    assert members["users"] == [f"/api/v1/users/{ids['uma']}", f"/api/v1/users/{ids['other']}"]
    plain = client.post("/api/v1/groups", json={"groupname": "plain"}, headers=headers("admin"))
    assert plain.status_code == 201 and plain.get_json()["name"] == "plain"
    taken = client.post("/api/v1/groups", json={"groupname": "team"}, headers=headers("admin"))
    assert taken.status_code == 409 and "groupname" in taken.get_json()["errors"]
    ghost = client.post(
        "/api/v1/groups", json={"groupname": "g", "users": ["ghost"]}, headers=headers("admin")
    )
    assert ghost.status_code == 404 and "users" in ghost.get_json()["errors"]
    long = client.post("/api/v1/groups", json={"groupname": "g" * 65}, headers=headers("admin"))
    assert long.status_code == 400 and "groupname" in long.get_json()["errors"]
    # Nothing of the refused requests was stored.
    listing = client.get("/api/v1/groups", headers=headers("admin")).get_json()
    assert listing["total_groups"] == 4


def test_get_group(client, app) -> None:
    ids = _setup(app)
    for reference in (ids["mine"], "mine", f"/api/v1/groups/{ids['mine']}".rsplit("/", 1)[1]):
        response = client.get(f"/api/v1/groups/{reference}", headers=headers("admin"))
        assert response.status_code == 200
        _assert_group(response.get_json())
    assert client.get("/api/v1/groups/mine", headers=headers("uma")).status_code == 200
    assert client.get("/api/v1/groups/theirs", headers=headers("uma")).status_code == 403
    assert client.get("/api/v1/groups/nope", headers=headers("admin")).status_code == 404


def test_update_group(client, app) -> None:
    ids = _setup(app)
    response = client.put(
        "/api/v1/groups/mine",
        json={"groupname": "ours", "name": "Ours", "users": ["other"]},
        headers=headers("admin"),
    )
    assert response.status_code == 200
    body = response.get_json()
    _assert_group(body)
    assert (body["groupname"], body["name"]) == ("ours", "Ours")
    members = client.get("/api/v1/groups/ours/users", headers=headers("admin")).get_json()
    assert members["users"] == [f"/api/v1/users/{ids['other']}"]
    clash = client.put(
        "/api/v1/groups/ours", json={"groupname": "theirs"}, headers=headers("admin")
    )
    assert clash.status_code == 409
    assert client.put("/api/v1/groups/nope", json={}, headers=headers("admin")).status_code == 404


def test_delete_group(client, app) -> None:
    _setup(app)
    response = client.delete("/api/v1/groups/mine", headers=headers("admin"))
    assert response.status_code == 200
    _assert_group(response.get_json())
    assert client.get("/api/v1/groups/mine", headers=headers("admin")).status_code == 404
    assert client.get("/api/v1/users/uma", headers=headers("admin")).status_code == 200


def test_group_users(client, app) -> None:
    ids = _setup(app)
    response = client.get("/api/v1/groups/mine/users", headers=headers("uma"))
    assert response.status_code == 200
    body = response.get_json()
    assert_shape(body, {"users": list, "total_users": int, **LIST_KEYS})
    assert body["users"] == [f"/api/v1/users/{ids['uma']}"]
    assert client.get("/api/v1/groups/theirs/users", headers=headers("uma")).status_code == 403


def test_membership_routes(client, app) -> None:
    ids = _setup(app)
    response = client.put("/api/v1/groups/theirs/users/uma", headers=headers("admin"))
    assert response.status_code == 200
    body = response.get_json()
    assert_shape(body, {"group": int, "user": int, "is_member": bool})
    assert body == {"group": ids["theirs"], "user": ids["uma"], "is_member": True}
    assert (
        client.put("/api/v1/groups/theirs/users/uma", headers=headers("admin")).status_code == 200
    )
    assert client.get("/api/v1/groups/theirs", headers=headers("uma")).status_code == 200
    response = client.delete(
        f"/api/v1/groups/{ids['theirs']}/users/{ids['uma']}", headers=headers("admin")
    )
    assert response.status_code == 200 and response.get_json()["is_member"] is False
    assert client.get("/api/v1/groups/theirs", headers=headers("uma")).status_code == 403
    assert (
        client.put("/api/v1/groups/theirs/users/ghost", headers=headers("admin")).status_code == 404
    )
    assert client.put("/api/v1/groups/nope/users/uma", headers=headers("admin")).status_code == 404
