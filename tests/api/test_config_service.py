"""Contract of the config service route."""

from datetime import datetime

from ..support.accounts import assert_shape, headers

CONFIG = """
roles:
  - {name: reviewer, description: Reviews, permissions: [task_read]}
users:
  - {username: alice, name: Alice, email: alice@example.org, password: pw, roles: [reviewer]}
groups:
  - {groupname: team, members: [alice]}
tags: [urgent]
"""
ROUTE = "/api/v1/service/config/import-config"


def test_post_creates_and_answers_the_spec_shape(client) -> None:
    response = client.post(ROUTE, json={"config_definition": CONFIG}, headers=headers("admin"))
    assert response.status_code == 201
    body = response.get_json()
    assert_shape(
        body, {"updated_at": str, "roles": list, "users": list, "groups": list, "tags": list}
    )
    datetime.fromisoformat(body["updated_at"])
    assert_shape(body["roles"][0], {"id": int, "name": str, "uri": str})
    assert_shape(
        body["users"][0],
        {
            "id": int,
            "username": str,
            "name": str,
            "uri": str,
            "assignment_weight": float,
            "email": str,
        },
    )
    assert_shape(body["groups"][0], {"name": str, "groupname": str})
    assert body["tags"] == ["urgent"]
    # alice:pw can log in (tags are readable by anyone authenticated).
    assert (
        client.get("/api/v1/tags", headers={"Authorization": "Basic YWxpY2U6cHc="}).status_code
        == 200
    )
    # Posting again creates nothing new and changes nothing.
    again = client.post(
        ROUTE,
        json={"config_definition": CONFIG.replace("Alice", "Changed")},
        headers=headers("admin"),
    )
    assert again.status_code == 201 and again.get_json()["users"] == []
    assert client.get("/api/v1/users/alice", headers=headers("admin")).get_json()["name"] == "Alice"


def test_put_overwrites(client) -> None:
    client.post(ROUTE, json={"config_definition": CONFIG}, headers=headers("admin"))
    response = client.put(
        ROUTE,
        json={"config_definition": CONFIG.replace("Alice", "Changed")},
        headers=headers("admin"),
    )
    assert response.status_code == 200
    assert [u["username"] for u in response.get_json()["users"]] == ["alice"]
    assert (
        client.get("/api/v1/users/alice", headers=headers("admin")).get_json()["name"] == "Changed"
    )


def test_bad_definitions_are_refused_whole(client) -> None:
    invalid = client.post(ROUTE, json={"config_definition": "a: [b"}, headers=headers("admin"))
    assert invalid.status_code == 400 and "config_definition" in invalid.get_json()["errors"]
    bad_entry = CONFIG.replace("tags: [urgent]", "tags: [urgent, " + "x" * 40 + "]")
    response = client.post(ROUTE, json={"config_definition": bad_entry}, headers=headers("admin"))
    assert response.status_code == 400
    assert "tags[1].name" in response.get_json()["errors"]
    assert client.get("/api/v1/users/alice", headers=headers("admin")).status_code == 404
    assert client.get("/api/v1/roles/reviewer", headers=headers("admin")).status_code == 404
    missing = client.post(ROUTE, json={}, headers=headers("admin"))
    assert missing.status_code == 400 and "config_definition" in missing.get_json()["errors"]
