"""GET /api/v1/callbacks, retrying failed deliveries, and the counts at /-/ready."""

from __future__ import annotations

from sqlalchemy import select, update

from taskmanager.models import CallbackDelivery, db
from taskmanager.services import users

from ..conftest import basic_auth
from ..support.callbacks import make_tasks


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
