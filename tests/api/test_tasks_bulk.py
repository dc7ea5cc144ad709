"""Bulk creation through POST /tasks: 10,000 at once, and all or nothing."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from taskmanager.models import Tag, Task, TaskHistory, db, task_tags, task_users

from ..support.task_factories import make_template, make_user


def _count(table) -> int:
    return db.session.scalar(select(func.count()).select_from(table))


def test_ten_thousand_tasks_in_one_request(app, client, admin_headers) -> None:
    with app.app_context():
        make_template(db.session, "tpl")
        make_user(db.session, "alice")
        make_user(db.session, "bob")
        db.session.commit()
    body = [
        {
            "project": f"project-{i % 7}",
            "template": "tpl",
            "content": {"template": "tpl", "n": i, "scan_sources": {"T1": f"http://x/{i}"}},
            "tags": ["bulk", f"batch-{i % 3}"],
            # Every other task names its user; the rest are handed out by weighted assignment.
            **({"users": ["alice"]} if i % 2 == 0 else {}),
        }
        for i in range(10_000)
    ]
    # Sent as written (the test client's `json=` would sort the keys of the content).
    response = client.post(
        "/api/v1/tasks",
        data=json.dumps(body),
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.get_json()
    created = response.get_json()["tasks"]
    assert len(created) == 10_000
    ids = [int(task["id"]) for task in created]
    assert ids == sorted(ids) and len(set(ids)) == 10_000
    assert [task["project"] for task in created[:8]] == [f"project-{i % 7}" for i in range(8)]
    assert {tag["name"] for tag in created[4]["tags"]} == {"bulk", "batch-1"}
    with app.app_context():
        assert _count(Task) == 10_000
        assert _count(Tag) == 4
        assert _count(task_tags) == 20_000
        assert _count(task_users) == 10_000  # one user per task, named or chosen
        assert _count(TaskHistory) == 10_000  # its creation, with its assignment
        first = db.session.get(Task, ids[0])
        assert first.raw_content.startswith('{"template": "tpl", "n": 0')


def test_one_bad_task_among_a_thousand_stores_nothing(app, client, admin_headers) -> None:
    with app.app_context():
        make_template(db.session, "tpl")
        db.session.commit()
    body = [
        {"project": "p", "template": "tpl", "content": "x", "tags": ["new"], "users": ["admin"]}
        for _ in range(1_000)
    ]
    body[617] = {**body[617], "template": "missing"}
    response = client.post("/api/v1/tasks", json=body, headers=admin_headers)
    assert response.status_code == 400
    answer = response.get_json()
    assert answer["errors"] == {"617.template": ["Template 'missing' does not exist"]}
    assert answer["message"] == "1 of 1000 tasks are invalid; none was created"
    with app.app_context():
        assert _count(Task) == 0
        assert _count(Tag) == 0
        assert _count(TaskHistory) == 0
