"""POST /tasks with idempotency keys: a retry answers the task made the first time."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from taskmanager.models import Task, TaskHistory, db

from ..support.task_factories import make_template

TASK = {"project": "p", "template": "tpl", "content": {"n": 1}, "users": ["admin"]}


@pytest.fixture(autouse=True)
def template(app) -> None:
    with app.app_context():
        make_template(db.session, "tpl")
        db.session.commit()


def _count(app, model: Any = Task) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _post(client, headers, body, key: str | None = None):
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/api/v1/tasks", json=body, headers={**headers, **extra})


def test_a_single_task_with_a_header_key_is_created_once(client, app, admin_headers) -> None:
    first = _post(client, admin_headers, TASK, "upload-1")
    assert first.status_code == 201
    again = _post(client, admin_headers, TASK, "upload-1")
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert _count(app) == 1 and _count(app, TaskHistory) == 1
    with app.app_context():
        assert db.session.get(Task, int(first.get_json()["id"])).idempotency_key == "upload-1"
    # Without a key, or with another one, the same body makes new tasks.
    assert _post(client, admin_headers, TASK).status_code == 201
    assert _post(client, admin_headers, TASK, "upload-2").status_code == 201
    assert _count(app) == 3


def test_a_single_task_with_its_own_key_field(client, app, admin_headers) -> None:
    body = {**TASK, "idempotency_key": "own"}
    first = _post(client, admin_headers, body)
    assert first.status_code == 201
    # The task's own key wins over the header.
    again = _post(client, admin_headers, body, "header-key")
    assert (again.status_code, again.get_json()["id"]) == (200, first.get_json()["id"])
    assert _count(app) == 1


def test_a_list_with_a_header_key_gives_each_task_key_slash_index(
    client, app, admin_headers
) -> None:
    body = [{**TASK, "content": {"n": n}} for n in range(3)]
    first = _post(client, admin_headers, body, "batch")
    assert first.status_code == 201
    assert first.get_json()["already_present"] == []
    with app.app_context():
        keys = db.session.scalars(select(Task.idempotency_key).order_by(Task.id)).all()
    assert keys == ["batch/0", "batch/1", "batch/2"]
    again = _post(client, admin_headers, body, "batch")
    assert again.status_code == 200
    answer = again.get_json()
    assert answer["tasks"] == first.get_json()["tasks"]
    assert answer["already_present"] == [0, 1, 2]
    assert _count(app) == 3


def test_a_list_says_which_tasks_were_there_already(client, app, admin_headers) -> None:
    assert _post(client, admin_headers, {**TASK, "idempotency_key": "b"}).status_code == 201
    body = [
        {**TASK, "content": {"n": 0}, "idempotency_key": "a"},
        {**TASK, "idempotency_key": "b"},
        {**TASK, "content": {"n": 2}},
    ]
    response = _post(client, admin_headers, body)
    assert response.status_code == 201
    answer = response.get_json()
    assert set(answer) == {"tasks", "already_present"}
    assert answer["already_present"] == [1]
    assert len({task["id"] for task in answer["tasks"]}) == 3
    assert _count(app) == 3


def test_the_same_key_with_another_body_is_refused_naming_it(client, app, admin_headers) -> None:
    assert _post(client, admin_headers, TASK, "k").status_code == 201
    response = _post(client, admin_headers, {**TASK, "content": {"n": 2}}, "k")
    assert response.status_code == 422
    answer = response.get_json()
    assert list(answer["errors"]) == ["idempotency_key"]
    assert "Idempotency key 'k' already names task" in answer["message"]

    body = [{**TASK, "content": {"n": 5}}, {**TASK, "content": {"n": 2}, "idempotency_key": "k"}]
    response = _post(client, admin_headers, body)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["1.idempotency_key"]
    assert _count(app) == 1  # nothing of the refused list was kept


@pytest.mark.parametrize(
    ("key", "field"),
    [("", "Idempotency-Key"), ("k" * 256, "Idempotency-Key")],
)
def test_a_bad_header_key_is_refused(client, app, admin_headers, key, field) -> None:
    response = _post(client, admin_headers, TASK, key)
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == [field]
    assert _count(app) == 0


def test_a_bad_key_field_is_refused(client, app, admin_headers) -> None:
    response = _post(client, admin_headers, [TASK, {**TASK, "idempotency_key": 5}])
    assert response.status_code == 400
    assert "1.idempotency_key" in response.get_json()["errors"]


def test_task_groups_take_no_keys(client, app, admin_headers) -> None:
    body = {"label": "g", "tasks": [{**TASK, "idempotency_key": "k"}]}
    response = client.post("/api/v1/taskgroups", json=body, headers=admin_headers)
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == ["tasks.0.idempotency_key"]
