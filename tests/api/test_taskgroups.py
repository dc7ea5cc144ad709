import pytest
from sqlalchemy import select

from taskmanager.models import TASKGROUP_STATUSES, Task, db
from taskmanager.services.taskgroups import completion

from ..conftest import basic_auth
from ..support.task_factories import PASSWORD, make_group, make_template, make_user

ANN = basic_auth("ann", PASSWORD)


@pytest.fixture
def team(app) -> None:
    with app.app_context():
        members = [make_user(db.session, name) for name in ("ann", "bob")]
        make_group(db.session, "team", members)
        make_template(db.session)
        db.session.commit()


def _body(**extra):
    return {"project": "p", "template": "tpl", "content": {"x": 1}, **extra}


def test_create_read_list_and_update(client, admin_headers, team) -> None:
    created = client.post(
        "/api/v1/taskgroups",
        headers=admin_headers,
        json={
            "label": "batch",
            "callback_url": "http://cb/$X",
            "callback_content": {"done": True},
            "tasks": [_body(), _body()],
            "distribute_in_group": "team",
            "distribute_method": "unique",
        },
    )
    assert created.status_code == 201, created.get_json()
    group = created.get_json()
    assert group["url"] == f"/api/v1/taskgroups/{group['id']}"
    assert (group["label"], group["status"]) == ("batch", "queued")
    assert group["callback_url"] == group["raw_callback_url"] == "http://cb/$X"
    assert group["callback_content"] == '{"done": true}'
    assert [set(t) for t in group["tasks"]] == [
        {"uri", "id", "status", "project", "template", "tags"}
    ] * 2
    by_label = client.get("/api/v1/taskgroups/batch", headers=admin_headers).get_json()
    assert by_label == group
    # ann sees the group, with her task only.
    mine = client.get(group["url"], headers=ANN).get_json()
    assert len(mine["tasks"]) == 1
    listed = client.get("/api/v1/taskgroups?status=queued", headers=ANN).get_json()
    assert listed == {
        "taskgroups": [
            {"url": group["url"], "id": group["id"], "label": "batch", "status": "queued"}
        ],
        "offset": 0,
        "limit": 10_000,
    }
    done = client.get("/api/v1/taskgroups?status=done&offset=1&limit=5", headers=ANN)
    assert done.get_json() == {"taskgroups": [], "offset": 1, "limit": 5}
    assert client.get("/api/v1/taskgroups?status=bogus", headers=ANN).status_code == 400
    first_task = group["tasks"][0]["id"]
    updated = client.put(
        group["url"],
        headers=admin_headers,
        json={"label": "renamed", "callback_content": "{}", "tasks": [first_task]},
    )
    assert updated.status_code == 200
    assert updated.get_json()["label"] == "renamed"
    assert [t["id"] for t in updated.get_json()["tasks"]] == [first_task]
    assert updated.get_json()["callback_content"] == "{}"


def test_unique_with_too_few_members_is_refused(client, admin_headers, team) -> None:
    response = client.post(
        "/api/v1/taskgroups",
        headers=admin_headers,
        json={
            "label": "big",
            "tasks": [_body()] * 3,
            "distribute_in_group": "team",
            "distribute_method": "unique",
        },
    )
    assert response.status_code == 400
    assert "distribute_method" in response.get_json()["errors"]
    assert client.get("/api/v1/taskgroups", headers=admin_headers).get_json()["taskgroups"] == []


def test_status_and_callback_follow_the_tasks(client, app, admin_headers, team) -> None:
    created = client.post(
        "/api/v1/taskgroups",
        headers=admin_headers,
        json={"label": "g", "callback_url": "http://cb", "tasks": [_body(users=["ann"])] * 2},
    ).get_json()
    with app.app_context():
        group_tasks = db.session.scalars(
            select(Task).where(Task.taskgroup_id == int(created["id"])).order_by(Task.id)
        ).all()
        for task in group_tasks:
            task.status = "done"
            db.session.flush()
            completion.on_task_status_changed(
                db.session, task=task, old_status="queued", actor=None
            )
        db.session.commit()
    done = client.get(created["url"], headers=ANN).get_json()
    assert done["status"] == "done"
    assert [t["status"] for t in done["tasks"]] == ["done", "done"]


def test_permissions(client, team) -> None:
    assert client.post("/api/v1/taskgroups", headers=ANN, json={"label": "x"}).status_code == 403
    assert client.get("/api/v1/taskgroups/1", headers=ANN).status_code == 404
    assert client.get("/api/v1/taskgroups").status_code == 401


def test_detail_lists_task_summaries_with_tags(client, admin_headers, team) -> None:
    created = client.post(
        "/api/v1/taskgroups",
        headers=admin_headers,
        json={"label": "tagged", "tasks": [_body(users=["ann"], tags=["urgent"])]},
    ).get_json()
    (task,) = created["tasks"]
    assert task["uri"] == f"/api/v1/tasks/{task['id']}"
    assert task["template"].startswith("/api/v1/task_templates/")
    assert [tag["name"] for tag in task["tags"]] == ["urgent"]
    assert task["tags"][0]["uri"].startswith("/api/v1/tags/")
    assert client.get(task["tags"][0]["uri"], headers=admin_headers).status_code == 200


def test_status_filters_name_the_domain_statuses(client, admin_headers) -> None:
    """The API's status choices come from the domain's enums (models/statuses.py), and a bad
    one is refused with the message a written-out Literal gave."""
    bad_group = client.get("/api/v1/taskgroups?status=bogus", headers=admin_headers).get_json()
    assert bad_group["errors"] == {
        "query.status": ["Input should be 'queued', 'done' or 'aborted'"]
    }
    bad_delivery = client.get("/api/v1/callbacks?status=lost", headers=admin_headers).get_json()
    assert bad_delivery["errors"] == {
        "query.status": ["Input should be 'pending', 'delivering', 'delivered' or 'failed'"]
    }
    spec = client.get("/api/v1/openapi.json").get_json()
    parameters = spec["paths"]["/api/v1/taskgroups"]["get"]["parameters"]
    [status] = [p for p in parameters if p["name"] == "status"]
    assert list(TASKGROUP_STATUSES) == ["queued", "done", "aborted"]
    assert "queued" in str(status["schema"]) and "aborted" in str(status["schema"])
