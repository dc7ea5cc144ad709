"""What a request body that is not JSON gets: 401 first when the caller is anonymous, then a 400
naming the `json` field and why, on every route that reads a JSON body; nothing is stored."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from taskmanager.models import Task, User, db

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
