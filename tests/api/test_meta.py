"""Contract of the meta routes."""

from datetime import datetime

from ..support.accounts import assert_shape, headers

META = {"id": int, "label": str, "value": str, "history": list}
HISTORY = {"id": int, "timestamp": str, "value": str}


def test_meta_lifecycle(client) -> None:
    response = client.post(
        "/api/v1/meta", json={"label": "XNAT", "value": "http://a"}, headers=headers("admin")
    )
    assert response.status_code == 201
    created = response.get_json()
    assert_shape(created, META)
    assert_shape(created["history"][0], HISTORY)
    datetime.fromisoformat(created["history"][0]["timestamp"])

    changed = client.put("/api/v1/meta/XNAT", json={"value": "http://b"}, headers=headers("admin"))
    assert changed.status_code == 200
    assert [h["value"] for h in changed.get_json()["history"]] == ["http://a", "http://b"]

    by_id = client.get(f"/api/v1/meta/{created['id']}", headers=headers("admin"))
    assert by_id.status_code == 200 and by_id.get_json()["value"] == "http://b"

    listing = client.get("/api/v1/meta", headers=headers("admin"))
    assert listing.status_code == 200
    body = listing.get_json()
    assert_shape(body, {"meta": list, "total_meta": int, "offset": int, "limit": int})
    assert body["meta"] == [by_id.get_json()] and body["total_meta"] == 1

    assert (
        client.post(
            "/api/v1/meta", json={"label": "XNAT", "value": "x"}, headers=headers("admin")
        ).status_code
        == 409
    )
    bad_label = client.post(
        "/api/v1/meta", json={"label": "a-b", "value": "x"}, headers=headers("admin")
    )
    assert bad_label.status_code == 400 and "label" in bad_label.get_json()["errors"]
    assert client.put("/api/v1/meta/XNAT", json={}, headers=headers("admin")).status_code == 400
    assert client.get("/api/v1/meta/NOPE", headers=headers("admin")).status_code == 404
    number = client.put("/api/v1/meta/XNAT", json={"value": 5}, headers=headers("admin"))
    assert number.status_code == 200 and number.get_json()["value"] == "5"
