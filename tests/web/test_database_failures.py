"""The web UI when the database fails a request: its own error pages (404, 409, 503 with
Retry-After) instead of a 500, and a page whose connection died is read again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from taskmanager.models import Task, User, db
from taskmanager.services.flows import task_changes

from ..support import rows
from ..support.connections import killer, on_statement
from .conftest import csrf_token_from, web_login


@pytest.fixture
def signed_in(client: Any) -> Any:
    response = web_login(client, "admin", "admin")
    assert response.status_code == 302
    response.close()
    return client


@pytest.fixture
def task_id(app: Any) -> int:
    with app.app_context():
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        made = rows.tasks(db.session, 1, assignees=[admin])[0]
        db.session.commit()
    return made


@pytest.fixture
def engine(app: Any) -> Any:
    with app.app_context():
        return db.engine


def _edit(client: Any, task_id: int) -> Any:
    page = client.get(f"/tasks/{task_id}/edit")
    token = csrf_token_from(page.get_data(as_text=True))
    page.close()
    return client.post(
        f"/tasks/{task_id}/edit", data={"status": "queued", "tags": "new", "csrf_token": token}
    )


def test_a_task_changed_meanwhile_shows_the_conflict_page(signed_in, task_id, monkeypatch) -> None:
    def stale(*_args: Any, **_kwargs: Any) -> None:
        raise StaleDataError("UPDATE statement on table 'tasks' expected to update 1 row(s)")

    monkeypatch.setattr(task_changes, "update", stale)
    response = _edit(signed_in, task_id)
    assert response.status_code == 409
    assert response.mimetype == "text/html"
    assert "409" in response.get_data(as_text=True)


def test_a_task_deleted_meanwhile_shows_the_not_found_page(
    signed_in, task_id, engine, monkeypatch
) -> None:
    def deleted_meanwhile(session: Any, *, task: Task, **_kwargs: Any) -> None:
        with Session(engine) as other:
            other.delete(other.get_one(Task, task.id))
            other.commit()
        session.expire(task)
        task.project  # noqa: B018 - the ORM finds the row gone: ObjectDeletedError

    monkeypatch.setattr(task_changes, "update", deleted_meanwhile)
    response = _edit(signed_in, task_id)
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_a_page_whose_connection_died_is_read_again(
    signed_in, task_id, engine, database_url
) -> None:
    with on_statement(engine, "SELECT", killer(database_url)):
        response = signed_in.get(f"/tasks/{task_id}")
    assert response.status_code == 200
    assert f"Task {task_id}" in response.get_data(as_text=True)


def test_a_change_whose_connection_died_shows_the_try_again_page(
    signed_in, task_id, engine, database_url
) -> None:
    page = signed_in.get(f"/tasks/{task_id}")
    token = csrf_token_from(page.get_data(as_text=True))
    page.close()
    with on_statement(engine, "UPDATE", killer(database_url)):
        response = signed_in.post(f"/tasks/{task_id}/lock", data={"csrf_token": token})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "Try again" in response.get_data(as_text=True)
    with Session(engine) as check:
        assert check.get_one(Task, task_id).lock_id is None
