"""When the database fails a request: a row deleted or changed meanwhile, a deadlock, a connection
that died. The request runs again where that is safe, and otherwise answers 404, 409 or 503 in
the error shape (503 with Retry-After): never a 500, never HTML."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from taskmanager.application import _ApiErrorsAsJson
from taskmanager.models import Task, TaskHistory, User, db
from taskmanager.services.flows import task_changes
from taskmanager.services.kit import transactions
from taskmanager.services.tasks import visibility

from ..support import rows
from ..support.connections import DeadlockOnce, kill, killer, on_statement
from ..support.databases import backend_name

SERVER_DATABASE = pytest.mark.skipif(
    backend_name() == "sqlite", reason="SQLite has no row locks to deadlock on"
)


@pytest.fixture
def task_ids(app: Any) -> list[int]:
    """Six tasks of the admin's: the first one is worked on, the others are what gets in its way."""
    with app.app_context():
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        ids = rows.tasks(db.session, 6, assignees=[admin])
        db.session.commit()
    return ids


@pytest.fixture
def signed_in(client: Any, admin_headers: dict[str, str]) -> None:
    """The credential verified once, as a client's first request does: that one commits (the
    login counters), and a request that committed something is not run again."""
    assert client.get("/api/v1/tasks", headers=admin_headers).status_code == 200


@pytest.fixture
def engine(app: Any) -> Any:
    """The app's engine; no app context stays open (requests would share it, and its session)."""
    with app.app_context():
        return db.engine


def _assert_error_shape(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert isinstance(body["message"], str) and body["message"]
    return body


# --- a row deleted or changed meanwhile: the error module's safety net ------------------------


def test_a_row_changed_meanwhile_answers_409(client, admin_headers, task_ids, monkeypatch) -> None:
    def stale(*_args: Any, **_kwargs: Any) -> None:
        raise StaleDataError("UPDATE statement on table 'tasks' expected to update 1 row(s)")

    monkeypatch.setattr(task_changes, "update", stale)
    response = client.put(
        f"/api/v1/tasks/{task_ids[0]}", json={"project": "x"}, headers=admin_headers
    )
    _assert_error_shape(response, 409)


def test_a_row_deleted_meanwhile_answers_404(
    app, client, admin_headers, task_ids, monkeypatch
) -> None:
    def deleted_meanwhile(session: Any, *, task: Task, **_kwargs: Any) -> None:
        with Session(db.engine) as other:
            other.execute(delete(Task).where(Task.id == task.id))
            other.commit()
        session.expire(task)
        task.project  # noqa: B018 - the ORM finds the row gone: ObjectDeletedError

    monkeypatch.setattr(task_changes, "update", deleted_meanwhile)
    response = client.put(
        f"/api/v1/tasks/{task_ids[0]}", json={"project": "x"}, headers=admin_headers
    )
    _assert_error_shape(response, 404)


# --- deadlocks: the request runs again -------------------------------------------------------


@SERVER_DATABASE
def test_a_deadlocked_request_runs_again_and_succeeds(
    client, admin_headers, signed_in, task_ids, engine, database_url
) -> None:
    deadlock = DeadlockOnce(database_url, held=task_ids[0], other=task_ids[1:])
    with on_statement(engine, "INSERT INTO task_history", deadlock) as attempts:
        response = client.put(f"/api/v1/tasks/{task_ids[0]}/lock", headers=admin_headers)
    deadlock.join()
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["username"] == "admin"
    assert len(attempts) == 2  # the deadlock, then the attempt that got through
    with Session(engine) as check:
        task = check.get_one(Task, task_ids[0])
        assert task.lock is not None and task.lock.username == "admin"
        assert task.tracking_id.startswith("rival")  # the other transaction went through too
        history = check.scalars(select(TaskHistory.action).where(TaskHistory.task_id == task.id))
        assert list(history) == ["lock"]  # once: the first attempt left nothing


@SERVER_DATABASE
def test_a_request_that_keeps_deadlocking_answers_409(
    client, admin_headers, signed_in, task_ids, engine, database_url
) -> None:
    deadlock = DeadlockOnce(database_url, held=task_ids[0], other=task_ids[1:], times=10)
    with on_statement(engine, "INSERT INTO task_history", deadlock) as attempts:
        response = client.put(f"/api/v1/tasks/{task_ids[0]}/lock", headers=admin_headers)
    deadlock.join()
    _assert_error_shape(response, 409)
    assert len(attempts) == transactions.ATTEMPTS
    with Session(engine) as check:
        assert check.get_one(Task, task_ids[0]).lock_id is None


# --- a connection that died ------------------------------------------------------------------


def test_a_read_whose_connection_died_runs_again_on_a_new_one(
    client, admin_headers, signed_in, task_ids, engine, database_url
) -> None:
    with on_statement(engine, "SELECT", killer(database_url)) as statements:
        response = client.get(f"/api/v1/tasks/{task_ids[0]}", headers=admin_headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["id"] == str(task_ids[0])
    assert len(statements) > 1


def test_a_read_whose_connections_keep_dying_answers_503(
    client, admin_headers, signed_in, task_ids, engine, database_url
) -> None:
    with on_statement(engine, "SELECT", killer(database_url, times=2)):
        response = client.get(f"/api/v1/tasks/{task_ids[0]}", headers=admin_headers)
    _assert_error_shape(response, 503)
    assert response.headers["Retry-After"] == str(transactions.RETRY_AFTER_SECONDS)
    assert client.get(f"/api/v1/tasks/{task_ids[0]}", headers=admin_headers).status_code == 200


def test_a_change_whose_connection_died_answers_503_and_is_not_made(
    client, admin_headers, signed_in, task_ids, engine, database_url
) -> None:
    # Killed as it writes: a change is not sent again (its COMMIT might have been the one lost).
    with on_statement(engine, "UPDATE", killer(database_url)) as statements:
        response = client.put(f"/api/v1/tasks/{task_ids[0]}/lock", headers=admin_headers)
    _assert_error_shape(response, 503)
    assert response.headers["Retry-After"] == str(transactions.RETRY_AFTER_SECONDS)
    assert len(statements) == 1
    with Session(engine) as check:
        assert check.get_one(Task, task_ids[0]).lock_id is None
    response = client.put(f"/api/v1/tasks/{task_ids[0]}/lock", headers=admin_headers)
    assert response.status_code == 200


def test_a_change_whose_connection_was_dead_before_it_began_runs_again(
    client, admin_headers, signed_in, task_ids, engine, database_url
) -> None:
    # As after a database restart: the pooled connection died while idle. Nothing of the request
    # reached the database, so even a change may run again.
    with on_statement(engine, "SELECT", killer(database_url)) as statements:
        response = client.put(f"/api/v1/tasks/{task_ids[0]}/lock", headers=admin_headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(statements) > 1
    with Session(engine) as check:
        assert check.get_one(Task, task_ids[0]).lock_id is not None


def test_the_end_of_a_request_survives_its_dead_connection(app, database_url) -> None:
    with app.app_context():
        db.session.execute(select(Task.id)).all()  # the request's transaction holds a connection
        kill(db.session.connection().connection.dbapi_connection, database_url)
    # Leaving the context ended the transaction on the dead connection without raising.
    with app.app_context():
        assert db.session.scalars(select(User.id).where(User.username == "admin")).one()
        assert db.engine.pool.checkedout() == 1  # this context's only


# --- whatever else fails answers the error shape ---------------------------------------------


def test_an_unexpected_error_answers_500_in_the_error_shape(
    app, client, admin_headers, task_ids, monkeypatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(visibility, "get_visible_or_raise", broken)
    body = _assert_error_shape(
        client.get(f"/api/v1/tasks/{task_ids[0]}", headers=admin_headers), 500
    )
    assert "a bug" not in body["message"]


@pytest.mark.parametrize("started", [False, True])
def test_what_escapes_flask_on_an_api_path_answers_json(app, monkeypatch, started) -> None:
    """E.g. a failing teardown: Flask has started its answer, then raises past its handlers."""

    def failing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if started:
            start_response("200 OK", [("Content-Type", "application/json")])
        raise RuntimeError("after the answer was made")

    answers: list[tuple[str, Any]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answers.append((status, dict(headers)))

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    guard = _ApiErrorsAsJson(app, failing)
    body = b"".join(
        guard({"PATH_INFO": "/api/v1/tasks/1", "REQUEST_METHOD": "GET"}, start_response)
    )
    status, headers = answers[-1]
    assert status.startswith("500")
    assert headers["Content-Type"] == "application/json"
    assert body == b'{"message": "Internal Server Error"}'
    with pytest.raises(RuntimeError):  # other paths are the WSGI server's to answer
        guard({"PATH_INFO": "/tasks/1", "REQUEST_METHOD": "GET"}, start_response)


def test_database_failures_are_classified_by_code() -> None:
    from sqlalchemy.exc import OperationalError

    class Driver(Exception):
        def __init__(self, *args: Any, sqlstate: str | None = None) -> None:
            super().__init__(*args)
            self.sqlstate = sqlstate

    def failure(*args: Any, sqlstate: str | None = None) -> OperationalError:
        return OperationalError("SELECT 1", {}, Driver(*args, sqlstate=sqlstate))

    for code in ("40P01", "40001", "55P03"):
        assert transactions.is_contention(failure("deadlock", sqlstate=code))
    for number in (1213, 1205):
        assert transactions.is_contention(failure(number, "Deadlock found"))
    assert not transactions.is_contention(failure(2013, "Lost connection"))
    assert transactions.as_domain_error(failure(1205, "Lock wait timeout")).status_code == 409
    assert transactions.as_domain_error(failure(2013, "Lost connection")).status_code == 503
    assert transactions.as_domain_error(RuntimeError("a bug")) is None
