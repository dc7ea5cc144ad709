"""GET /api/v1/callbacks, retrying failed deliveries, and the counts at /-/ready."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select, update

from taskmanager.config import parse_callback_hosts
from taskmanager.models import CallbackDelivery, db
from taskmanager.services.accounts import users
from taskmanager.services.callbacks import outbox
from taskmanager.workers.delivery import send

from ..conftest import basic_auth
from ..support.callbacks import make_tasks, quick
from ..support.receiver import Receiver
from ..support.task_factories import make_template


def _deliveries(app, count: int) -> list[int]:
    with app.app_context():
        tasks = make_tasks(db.session, count, "http://127.0.0.1:9")
        ids = list(db.session.scalars(select(CallbackDelivery.id).order_by(CallbackDelivery.id)))
        assert len(tasks) == len(ids)
        return ids


def _set(app, delivery_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(
            update(CallbackDelivery).where(CallbackDelivery.id == delivery_id).values(**values)
        )
        db.session.commit()


def test_list_pages_and_filters(app, client, admin_headers) -> None:
    ids = _deliveries(app, 4)
    _set(app, ids[0], status="failed", attempts=8, last_error="HTTP 500: boom")

    response = client.get("/api/v1/callbacks?limit=2&offset=1", headers=admin_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 4 and body["offset"] == 1 and body["limit"] == 2
    assert [item["id"] for item in body["callbacks"]] == [ids[2], ids[1]]
    item = body["callbacks"][0]
    assert item["uri"] == f"/api/v1/callbacks/{ids[2]}"
    assert item["status"] == "pending" and item["method"] == "PUT"
    assert item["url"] == "http://127.0.0.1:9/done/2"
    assert item["body"] == '{"task": 2, "result": "ok"}'
    assert item["next_attempt_at"] and item["delivered_at"] is None
    assert item["max_attempts"] == app.extensions["taskman_settings"].callback_max_attempts

    failed = client.get("/api/v1/callbacks?status=failed", headers=admin_headers).get_json()
    assert failed["total"] == 1
    (item,) = failed["callbacks"]
    assert item["id"] == ids[0] and item["last_error"] == "HTTP 500: boom"
    assert item["next_attempt_at"] is None

    task_id = item["task_id"]
    by_task = client.get(f"/api/v1/callbacks?task={task_id}", headers=admin_headers).get_json()
    assert [i["id"] for i in by_task["callbacks"]] == [ids[0]]
    by_group = client.get("/api/v1/callbacks?taskgroup=999999", headers=admin_headers)
    assert by_group.get_json()["total"] == 0


def test_invalid_filters_are_400(client, admin_headers) -> None:
    for query in ("status=lost", "limit=0", "offset=-1", "task=abc"):
        response = client.get(f"/api/v1/callbacks?{query}", headers=admin_headers)
        assert response.status_code == 400, query
        assert "errors" in response.get_json()


def test_only_admins(app, client) -> None:
    assert client.get("/api/v1/callbacks").status_code == 401
    with app.app_context():
        users.create(
            db.session,
            username="manager",
            password="secret-pass",
            email="manager@example.org",
            roles=["superuser"],
        )
        db.session.commit()
    headers = basic_auth("manager", "secret-pass")
    assert client.get("/api/v1/callbacks", headers=headers).status_code == 403
    assert client.post("/api/v1/callbacks/1/retry", headers=headers).status_code == 403


def test_get_one_and_retry_a_failed_one(app, client, admin_headers) -> None:
    failed_id, pending_id = _deliveries(app, 2)
    _set(app, failed_id, status="failed", attempts=8)

    one = client.get(f"/api/v1/callbacks/{failed_id}", headers=admin_headers)
    assert one.status_code == 200 and one.get_json()["status"] == "failed"
    assert client.get("/api/v1/callbacks/999999", headers=admin_headers).status_code == 404

    retried = client.post(f"/api/v1/callbacks/{failed_id}/retry", headers=admin_headers)
    assert retried.status_code == 200
    assert retried.get_json()["status"] == "pending" and retried.get_json()["attempts"] == 0
    conflict = client.post(f"/api/v1/callbacks/{pending_id}/retry", headers=admin_headers)
    assert conflict.status_code == 409
    assert conflict.get_json()["errors"] == {"status": [conflict.get_json()["message"]]}
    missing = client.post("/api/v1/callbacks/999999/retry", headers=admin_headers)
    assert missing.status_code == 404


def test_ready_reports_counts_by_status(app, client) -> None:
    ids = _deliveries(app, 3)
    _set(app, ids[0], status="failed")
    response = client.get("/-/ready")
    assert response.status_code == 200
    assert response.get_json()["callbacks"] == {
        "pending": 2,
        "delivering": 0,
        "delivered": 0,
        "failed": 1,
    }


def test_documented_in_openapi(client) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/callbacks"]
    assert "post" in paths["/api/v1/callbacks/{callback_id}/retry"]


# --- destinations (TASKMAN_CALLBACK_ALLOWED_HOSTS) ------------------------------------------

METADATA = "http://169.254.169.254/latest/meta-data/"


@contextmanager
def allowed_hosts(app: Any, value: str | None) -> Iterator[Any]:
    """The app with TASKMAN_CALLBACK_ALLOWED_HOSTS set to `value` (and quick callbacks)."""
    settings = app.extensions["taskman_settings"]
    app.extensions["taskman_settings"] = quick(
        settings, callback_allowed_hosts=parse_callback_hosts(value)
    )
    try:
        yield app.extensions["taskman_settings"]
    finally:
        app.extensions["taskman_settings"] = settings


def _task(callback: dict[str, Any]) -> dict[str, Any]:
    return {"project": "p", "template": "cb", "content": {}, "users": ["admin"], **callback}


@pytest.fixture
def template(app) -> None:
    with app.app_context():
        make_template(db.session, "cb")
        db.session.commit()


def _refused(response: Any, field: str) -> None:
    assert response.status_code == 400, response.get_json()
    errors = response.get_json()["errors"]
    assert list(errors) == [field], errors
    assert "TASKMAN_CALLBACK_ALLOWED_HOSTS" in errors[field][0]


def test_callback_urls_to_refused_hosts_are_400_naming_the_field(
    client, admin_headers, template
) -> None:
    """By default link-local addresses (cloud metadata) are refused on every route that takes a
    callback URL; a URL whose host is a meta variable is checked when delivered."""
    post = client.post
    _refused(
        post("/api/v1/tasks", json=_task({"callback_url": METADATA}), headers=admin_headers),
        "callback_url",
    )
    raw = _task({"raw_callback_url": "http://[fe80::1]/cb"})
    _refused(post("/api/v1/tasks", json=raw, headers=admin_headers), "raw_callback_url")
    bulk = [_task({}), _task({"callback_url": METADATA})]
    _refused(post("/api/v1/tasks", json=bulk, headers=admin_headers), "1.callback_url")
    group = {"label": "g", "callback_url": METADATA, "tasks": [_task({})]}
    _refused(post("/api/v1/taskgroups", json=group, headers=admin_headers), "callback_url")

    created = post(
        "/api/v1/tasks", json=_task({"callback_url": "http://$GOV/cb"}), headers=admin_headers
    )
    assert created.status_code == 201
    task_uri = created.get_json()["uri"]
    changed = client.put(task_uri, json={"callback_url": METADATA}, headers=admin_headers)
    _refused(changed, "callback_url")
    group = post("/api/v1/taskgroups", json={"label": "g2"}, headers=admin_headers)
    assert group.status_code == 201
    group_uri = f"/api/v1/taskgroups/{group.get_json()['id']}"
    changed = client.put(group_uri, json={"callback_url": METADATA}, headers=admin_headers)
    _refused(changed, "callback_url")
    assert client.get(task_uri, headers=admin_headers).get_json()["raw_callback_url"] == (
        "http://$GOV/cb"
    )


def _finish(client, headers, task_uri: str, app: Any, settings: Any) -> dict[str, Any]:
    """Mark the task done, deliver its callback once; the delivery row as the API shows it."""
    assert client.put(task_uri, json={"status": "done"}, headers=headers).status_code == 200
    with app.app_context():
        (delivery_id,) = outbox.claim_due(db.session, settings=settings, limit=5)
        send(db.session, delivery_id=delivery_id, settings=settings)
    return client.get(f"/api/v1/callbacks/{delivery_id}", headers=headers).get_json()


def test_callbacks_reach_a_receiver_only_when_allowed(app, client, admin_headers, template) -> None:
    with Receiver() as receiver:
        url = f"http://127.0.0.1:{receiver.port}/cb"
        with allowed_hosts(app, "governor.example.org,127.0.0.1") as settings:
            created = client.post(
                "/api/v1/tasks", json=_task({"callback_url": url}), headers=admin_headers
            )
            assert created.status_code == 201
            delivery = _finish(client, admin_headers, created.get_json()["uri"], app, settings)
            assert delivery["status"] == "delivered" and len(receiver.requests) == 1

        # Only names listed: an address is refused when given.
        with allowed_hosts(app, "governor.example.org"):
            refused = client.post(
                "/api/v1/tasks", json=_task({"callback_url": url}), headers=admin_headers
            )
            _refused(refused, "callback_url")

        # A name may resolve into an allowed network, so it is taken, and refused when
        # delivered: failed at once, with the reason, never sent.
        with allowed_hosts(app, "10.0.5.0/24") as settings:
            by_name = f"http://localhost:{receiver.port}/cb"
            created = client.post(
                "/api/v1/tasks", json=_task({"callback_url": by_name}), headers=admin_headers
            )
            assert created.status_code == 201
            delivery = _finish(client, admin_headers, created.get_json()["uri"], app, settings)
    assert delivery["status"] == "failed" and delivery["attempts"] == 1
    assert delivery["last_error"].startswith("Refused: localhost resolves to 127.0.0.1")
    assert len(receiver.requests) == 1
