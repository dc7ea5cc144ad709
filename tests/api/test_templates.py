"""Contract of the task templates routes."""

import json

from taskmanager.models import Task

from ..support.accounts import assert_shape, headers, in_app, make_user

TEMPLATE_DETAIL = {"uri": str, "label": str, "content": str, "id": int}


def test_templates_lifecycle(client, app) -> None:
    with in_app(app) as session:
        make_user(session, "uma", "user")
    content = {"template_name": "review", "scans": [{"label": "T1"}]}
    response = client.post(
        "/api/v1/task_templates",
        json={"label": "review", "content": content},
        headers=headers("admin"),
    )
    assert response.status_code == 201
    template = response.get_json()
    assert_shape(template, TEMPLATE_DETAIL)
    assert template["uri"] == "/api/v1/task_templates/review"
    assert json.loads(template["content"]) == content

    yaml_text = "template_name: second\nscans:\n  - label: T2\n"
    second = client.post(
        "/api/v1/task_templates",
        json={"label": "second", "content": yaml_text},
        headers=headers("admin"),
    )
    assert second.status_code == 201 and second.get_json()["content"] == yaml_text

    listing = client.get("/api/v1/task_templates", headers=headers("uma"))
    assert listing.status_code == 200
    body = listing.get_json()
    assert_shape(
        body, {"task_templates": list, "total_task_templates": int, "offset": int, "limit": int}
    )
    assert body["task_templates"] == [
        "/api/v1/task_templates/review",
        "/api/v1/task_templates/second",
    ]

    for reference in ("review", template["id"]):
        one = client.get(f"/api/v1/task_templates/{reference}", headers=headers("uma"))
        assert one.status_code == 200 and one.get_json() == template

    changed = client.put(
        "/api/v1/task_templates/review", json={"content": "a: 1"}, headers=headers("admin")
    )
    assert changed.status_code == 200 and changed.get_json()["content"] == "a: 1"
    renamed = client.put(
        "/api/v1/task_templates/review", json={"label": "reviewed"}, headers=headers("admin")
    )
    assert (
        renamed.status_code == 200
        and renamed.get_json()["uri"] == "/api/v1/task_templates/reviewed"
    )

    bad = client.post(
        "/api/v1/task_templates",
        json={"label": "bad", "content": "a: [b"},
        headers=headers("admin"),
    )
    assert bad.status_code == 400 and "content" in bad.get_json()["errors"]
    taken = client.post(
        "/api/v1/task_templates", json={"label": "second", "content": {}}, headers=headers("admin")
    )
    assert taken.status_code == 409 and "label" in taken.get_json()["errors"]
    assert client.get("/api/v1/task_templates/nope", headers=headers("admin")).status_code == 404

    deleted = client.delete("/api/v1/task_templates/second", headers=headers("admin"))
    assert deleted.status_code == 200 and deleted.get_json()["label"] == "second"
    assert client.get("/api/v1/task_templates/second", headers=headers("admin")).status_code == 404


def test_deleting_a_template_in_use_is_refused(client, app) -> None:
    client.post(
        "/api/v1/task_templates", json={"label": "used", "content": {}}, headers=headers("admin")
    )
    with in_app(app) as session:
        from taskmanager.services.reference import templates

        session.add(
            Task(
                project="p",
                raw_content="{}",
                template=templates.get_or_raise(session, reference="used"),
            )
        )
    response = client.delete("/api/v1/task_templates/used", headers=headers("admin"))
    assert response.status_code == 409
    assert "used by tasks" in response.get_json()["message"]
    assert client.get("/api/v1/task_templates/used", headers=headers("admin")).status_code == 200
