"""Contract of the roles routes."""

from datetime import datetime

from ..support.accounts import assert_shape, headers


def test_list_roles(client) -> None:
    response = client.get("/api/v1/roles", headers=headers("admin"))
    assert response.status_code == 200
    body = response.get_json()
    assert_shape(body, {"roles": list, "total_roles": int, "offset": int, "limit": int})
    assert body["total_roles"] == 3 and all(u.startswith("/api/v1/roles/") for u in body["roles"])


def test_get_role(client) -> None:
    uri = client.get("/api/v1/roles", headers=headers("admin")).get_json()["roles"][0]
    response = client.get(uri, headers=headers("admin"))
    assert response.status_code == 200
    body = response.get_json()
    assert_shape(
        body,
        {
            "name": str,
            "description": (str, type(None)),
            "update_datetime": str,
            "permissions": list,
        },
    )
    datetime.fromisoformat(body["update_datetime"])
    by_name = client.get("/api/v1/roles/user", headers=headers("admin")).get_json()
    assert sorted(by_name["permissions"]) == [
        "group_read",
        "task_read",
        "task_update_status",
        "user_read",
    ]
    assert client.get("/api/v1/roles/wizard", headers=headers("admin")).status_code == 404
