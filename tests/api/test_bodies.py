"""What a request body that is not JSON gets: 401 first when the caller is anonymous, then a 400
naming the `json` field and why, on every route that reads a JSON body; nothing is stored. And
what a body or query its schema refuses gets: one 400 shape (api/bodies.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from taskmanager.models import Task, User, db
from taskmanager.services.kit.references import MAX_ID

from ..support.task_factories import make_task, make_template

NOT_JSON = {
    "truncated": ("{bad", "application/json", "Expecting property name"),
    "empty": ("", "application/json", "it is empty"),
    "form text": ("x=1", "text/plain", "Expecting value"),
}


def _routes_reading_json(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every v1 route that takes a body, ids filled with the seeded task's."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api_v1."):
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            routes.append((method, re.sub(r"<[^>]+>", "1", rule.rule)))
    return routes


def test_anonymous_requests_are_asked_for_credentials_before_the_body_is_read(app, client):
    routes = _routes_reading_json(app)
    assert len(routes) > 10  # the rule filter found the API's writing routes
    for method, path in routes:
        for body, content_type, _reason in NOT_JSON.values():
            response = client.open(path, method=method, data=body, content_type=content_type)
            assert response.status_code == 401, (method, path, body)
            assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_wrong_credentials_are_refused_before_the_body_is_read(client):
    from ..conftest import basic_auth

    response = client.post(
        "/api/v1/users", data="{bad", content_type="application/json", headers=basic_auth("x", "y")
    )
    assert response.status_code == 401


@pytest.mark.parametrize("case", sorted(NOT_JSON))
@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/api/v1/tasks"),
        ("POST", "/api/v1/users"),
        ("POST", "/api/v1/taskgroups"),
        ("POST", "/api/v1/meta"),
        ("PUT", "/api/v1/tasks/{task}"),
        ("PUT", "/api/v1/tasks/{task}/lock"),
    ],
)
def test_a_body_that_is_not_json_is_refused_saying_why(
    app, client, admin_headers, method, path, case
):
    body, content_type, reason = NOT_JSON[case]
    with app.app_context():
        template = make_template(db.session, "tpl")
        task_id = make_task(db.session, template=template).id
        db.session.commit()
        before = (
            db.session.scalar(select(func.count()).select_from(Task)),
            db.session.scalar(select(func.count()).select_from(User)),
        )
    url = path.format(task=task_id)
    response = client.open(
        url, method=method, data=body, content_type=content_type, headers=admin_headers
    )
    if case == "empty" and url.endswith("/lock"):
        # An empty lock body means "lock to me" (clients send none): that is allowed.
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.get_data(as_text=True)
    answer = response.get_json()
    assert list(answer["errors"]) == ["json"]
    assert "not valid JSON" in answer["message"]
    assert reason in answer["errors"]["json"][0]
    with app.app_context():
        after = (
            db.session.scalar(select(func.count()).select_from(Task)),
            db.session.scalar(select(func.count()).select_from(User)),
        )
    assert after == before


# What a schema refuses, on every kind of route (api/bodies.py): 400, `errors` keyed by field
# path, and every field with its messages in `message`.
REFUSED = [
    ("POST", "/api/v1/tags", {"name": 1}, {"name": ["Input should be a valid string"]}),
    (
        "POST",
        "/api/v1/tags",
        [],
        {"_schema": ["Input should be a valid dictionary or instance of TagIn"]},
    ),
    ("PUT", "/api/v1/tasks/{task}/lock", {"lock": True}, {"lock": None}),
    ("POST", "/api/v1/tasks/next", {"project": 1}, {"project": ["Input should be a valid string"]}),
    ("PUT", "/api/v1/tasks/{task}", {"users": [True]}, {"users.0": None}),
    # Creating tasks names the top-level field (a list of tasks: the index too, see below).
    (
        "POST",
        "/api/v1/tasks",
        {"project": "p", "template": "tpl", "users": [True]},
        {"users": None},
    ),
    ("GET", "/api/v1/users?offset=-1", None, {"query.offset": None}),
]


@pytest.mark.parametrize(
    "method,path,body,errors", REFUSED, ids=[f"{m} {p} {b!r}" for m, p, b, _e in REFUSED]
)
def test_what_a_schema_refuses_is_answered_in_one_shape(
    app, client, admin_headers, method, path, body, errors
):
    with app.app_context():
        task_id = make_task(db.session, template=make_template(db.session, "tpl")).id
        db.session.commit()
    response = client.open(
        path.format(task=task_id), method=method, json=body, headers=admin_headers
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    answer = response.get_json()
    assert set(answer) == {"message", "errors"}
    assert set(answer["errors"]) == set(errors)
    for field, messages in errors.items():
        if messages is not None:
            assert answer["errors"][field] == messages
    assert answer["message"] == "Invalid input: " + "; ".join(
        f"{field}: {', '.join(messages)}" for field, messages in answer["errors"].items()
    )


def test_a_task_list_names_the_index_and_field_of_each_refusal(app, client, admin_headers):
    with app.app_context():
        make_template(db.session, "tpl")
        db.session.commit()
    tasks = [
        {"project": "p", "template": "tpl", "content": {}},
        {"project": 1, "template": "tpl", "users": [True]},
    ]
    response = client.post("/api/v1/tasks", json=tasks, headers=admin_headers)
    assert response.status_code == 400
    assert response.get_json()["errors"] == {
        "1.project": ["Input should be a valid string"],
        "1.users": [f"Input should be a name, a URL or an id (a whole number from 1 to {MAX_ID})"],
    }
