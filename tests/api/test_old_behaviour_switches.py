"""The settings that restore 6.6.0's behaviour while a site switches (docs/upgrading.md): scan
names (TASKMAN_SCAN_CHECK), done and the lock (TASKMAN_DONE_RELEASES_LOCK), e-mail addresses
(TASKMAN_EMAIL_CHECK) and password length (SECURITY_PASSWORD_LENGTH_MIN) on the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select

from taskmanager.models import Task, TaskHistory, User, db

from ..conftest import basic_auth
from ..support import rows
from ..support.task_factories import PASSWORD, make_template, make_user

ANN = basic_auth("ann", PASSWORD)
SCANS = {"template_name": "viewr", "scans": [{"label": "T1"}, {"label": "T2"}]}
MATCHING = {"scan_sources": {"T1": "http://x/t1", "T2": "http://x/t2"}}
MISMATCHED = {"scan_sources": {"T1": "http://x/t1", "X": "http://x/x"}}


@contextmanager
def switched(app: Any, **changes: Any) -> Iterator[None]:
    settings = app.extensions["taskman_settings"]
    app.extensions["taskman_settings"] = settings.model_copy(update=changes)
    try:
        yield
    finally:
        app.extensions["taskman_settings"] = settings


@pytest.fixture
def viewr(app) -> None:
    with app.app_context():
        make_template(db.session, "viewr", SCANS)
        db.session.commit()


def _task(content: dict[str, Any]) -> dict[str, Any]:
    return {"project": "p", "template": "viewr", "content": content, "users": ["admin"]}


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Task)) or 0


# --- TASKMAN_SCAN_CHECK ------------------------------------------------------------------------


def test_scan_check_strict_refuses(client, app, admin_headers, viewr) -> None:
    response = client.post("/api/v1/tasks", json=_task(MISMATCHED), headers=admin_headers)
    assert response.status_code == 400
    assert "missing T2" in response.get_json()["errors"]["content"][0]
    assert _count(app) == 0


def test_scan_check_warn_stores_and_warns(client, app, admin_headers, viewr) -> None:
    with switched(app, scan_check="warn"):
        good = client.post("/api/v1/tasks", json=_task(MATCHING), headers=admin_headers)
        bad = client.post("/api/v1/tasks", json=_task(MISMATCHED), headers=admin_headers)
    assert good.status_code == 201 and "warnings" not in good.get_json()
    assert bad.status_code == 201
    answer = bad.get_json()
    assert list(answer["warnings"]) == ["content"]
    assert "missing T2" in answer["warnings"]["content"][0]
    assert "extra X" in answer["warnings"]["content"][0]
    assert answer["raw_content"] and answer["status"] == "queued"  # the old fields, unchanged
    assert _count(app) == 2


def test_scan_check_warn_in_bulk_names_each_index(client, app, admin_headers, viewr) -> None:
    body = [_task(MATCHING), _task(MISMATCHED), _task(MATCHING), _task(MISMATCHED)]
    with switched(app, scan_check="warn"):
        response = client.post("/api/v1/tasks", json=body, headers=admin_headers)
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert len(answer["tasks"]) == 4
    assert sorted(answer["warnings"]) == ["1.content", "3.content"]
    # Another problem still refuses the batch, whatever the scans.
    body.append({**_task(MISMATCHED), "template": "nope"})
    with switched(app, scan_check="warn"):
        refused = client.post("/api/v1/tasks", json=body, headers=admin_headers)
    assert refused.status_code == 400 and list(refused.get_json()["errors"]) == ["4.template"]
    assert _count(app) == 4


def test_scan_check_warn_on_change_and_task_groups(client, app, admin_headers, viewr) -> None:
    created = client.post("/api/v1/tasks", json=_task(MATCHING), headers=admin_headers)
    url = created.get_json()["uri"]
    with switched(app, scan_check="warn"):
        changed = client.put(url, json={"content": MISMATCHED}, headers=admin_headers)
        group = client.post(
            "/api/v1/taskgroups",
            json={"label": "g", "tasks": [_task(MATCHING), _task(MISMATCHED)]},
            headers=admin_headers,
        )
    assert changed.status_code == 200 and list(changed.get_json()["warnings"]) == ["content"]
    assert '"X"' in changed.get_json()["raw_content"]
    assert group.status_code == 201, group.get_json()
    assert list(group.get_json()["warnings"]) == ["tasks.1.content"]
    assert len(group.get_json()["tasks"]) == 2
    # strict refuses the same change
    refused = client.put(url, json={"content": MISMATCHED}, headers=admin_headers)
    assert refused.status_code == 400


def test_scan_check_off_stores_silently(client, app, admin_headers, viewr) -> None:
    with switched(app, scan_check="off"):
        response = client.post("/api/v1/tasks", json=[_task(MISMATCHED)], headers=admin_headers)
    assert response.status_code == 201 and "warnings" not in response.get_json()
    assert _count(app) == 1


# --- TASKMAN_DONE_RELEASES_LOCK ---------------------------------------------------------------


@pytest.fixture
def locked_task(app) -> str:
    """A task assigned to ann and locked by her."""
    with app.app_context():
        ann = make_user(db.session, "ann")
        task = rows.task(db.session, assignees=[ann])
        db.session.commit()
        return f"/api/v1/tasks/{task.id}"


def _unlocks(app) -> int:
    with app.app_context():
        query = select(func.count()).where(TaskHistory.action == "unlock")
        return db.session.scalar(query) or 0


def test_done_releases_the_lock_by_default(client, app, locked_task) -> None:
    assert client.put(f"{locked_task}/lock", headers=ANN).status_code == 200
    done = client.put(locked_task, json={"status": "done"}, headers=ANN)
    assert done.status_code == 200 and done.get_json()["status"] == "done"
    assert client.get(f"{locked_task}/lock", headers=ANN).get_json()["username"] is None
    assert _unlocks(app) == 1


def test_done_keeps_the_lock_when_switched_off(client, app, locked_task) -> None:
    assert client.put(f"{locked_task}/lock", headers=ANN).status_code == 200
    with switched(app, done_releases_lock=False):
        done = client.put(locked_task, json={"status": "done"}, headers=ANN)
    assert done.status_code == 200 and done.get_json()["status"] == "done"
    assert done.get_json()["done_by"]  # who finished is still recorded
    assert client.get(f"{locked_task}/lock", headers=ANN).get_json()["username"] == "ann"
    assert _unlocks(app) == 0
    # The holder releases it as before.
    assert client.delete(f"{locked_task}/lock", headers=ANN).get_json()["lock"] is None


# --- TASKMAN_EMAIL_CHECK and SECURITY_PASSWORD_LENGTH_MIN --------------------------------------


def _user(email: str, password: str = "long-enough-password", name: str = "u1") -> dict[str, Any]:
    return {"username": name, "password": password, "name": name, "email": email}


def test_email_check_strict_refuses_what_is_not_an_address(client, admin_headers) -> None:
    for email in ("not-an-address", "a b@example.org", "@example.org"):
        response = client.post("/api/v1/users", json=_user(email), headers=admin_headers)
        assert response.status_code == 400 and "email" in response.get_json()["errors"], email


def test_email_check_loose_takes_any_text(client, app, admin_headers) -> None:
    with switched(app, email_check="loose"):
        created = client.post("/api/v1/users", json=_user("n/a"), headers=admin_headers)
        assert created.status_code == 201, created.get_json()
        changed = client.put(
            created.get_json()["uri"], json={"email": "Jo Doe (ward 3)"}, headers=admin_headers
        )
    assert changed.status_code == 200 and changed.get_json()["email"] == "Jo Doe (ward 3)"
    refused = client.put(created.get_json()["uri"], json={"email": "x"}, headers=admin_headers)
    assert refused.status_code == 400  # strict again


@pytest.mark.parametrize("mode", ["strict", "loose"])
@pytest.mark.parametrize(
    "email", ["a@example.org\r\nBcc: all@example.org", "a@example.org\n", "a\x00@example.org"]
)
def test_email_control_characters_refused_whatever_the_setting(
    client, app, admin_headers, mode, email
) -> None:
    with switched(app, email_check=mode):
        response = client.post("/api/v1/users", json=_user(email), headers=admin_headers)
    assert response.status_code == 400 and "email" in response.get_json()["errors"]
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "u1")) is None


def test_password_length_min_of_one_takes_short_passwords(
    client, app, admin_headers, monkeypatch
) -> None:
    short = _user("u1@example.org", password="x")
    refused = client.post("/api/v1/users", json=short, headers=admin_headers)
    assert refused.status_code == 400 and "password" in refused.get_json()["errors"]
    monkeypatch.setitem(app.config, "SECURITY_PASSWORD_LENGTH_MIN", 1)
    created = client.post("/api/v1/users", json=short, headers=admin_headers)
    assert created.status_code == 201
    changed = client.put(created.get_json()["uri"], json={"password": "y"}, headers=admin_headers)
    assert changed.status_code == 200
    assert client.get("/api/v1/users/u1", headers=basic_auth("u1", "y")).status_code == 200
