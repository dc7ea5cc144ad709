"""Contract of the tags routes."""

from ..support.accounts import assert_shape, headers, in_app, make_user

TAG_DETAIL = {"name": str, "uri": str, "tasks": str, "id": int}


def test_tags_lifecycle(client, app) -> None:
    with in_app(app) as session:
        make_user(session, "uma", "user")
    response = client.post("/api/v1/tags", json={"name": "urgent"}, headers=headers("admin"))
    assert response.status_code == 201
    tag = response.get_json()
    assert_shape(tag, TAG_DETAIL)
    assert tag["uri"] == f"/api/v1/tags/{tag['id']}" and tag["tasks"] == tag["uri"] + "/tasks"

    listing = client.get("/api/v1/tags", headers=headers("uma"))
    assert listing.status_code == 200
    body = listing.get_json()
    assert_shape(body, {"tags": list, "total_tags": int, "offset": int, "limit": int})
    assert body["tags"] == [{"uri": tag["uri"], "name": "urgent"}]

    for reference in (tag["id"], "urgent"):
        one = client.get(f"/api/v1/tags/{reference}", headers=headers("uma"))
        assert one.status_code == 200 and one.get_json() == tag

    renamed = client.put(tag["uri"], json={"name": "later"}, headers=headers("admin"))
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "later"
    # The old server never saved the new name; ours does.
    assert client.get(tag["uri"], headers=headers("admin")).get_json()["name"] == "later"

    assert (
        client.post("/api/v1/tags", json={"name": "later"}, headers=headers("admin")).status_code
        == 409
    )
    long = client.post("/api/v1/tags", json={"name": "x" * 33}, headers=headers("admin"))
    assert long.status_code == 400 and "name" in long.get_json()["errors"]
    assert client.put(tag["uri"], json={}, headers=headers("admin")).status_code == 400

    deleted = client.delete(tag["uri"], headers=headers("admin"))
    assert deleted.status_code == 200 and deleted.get_json()["name"] == "later"
    assert client.get(tag["uri"], headers=headers("admin")).status_code == 404
    assert client.delete(tag["uri"], headers=headers("admin")).status_code == 404
