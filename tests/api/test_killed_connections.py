"""A real server (gunicorn, two workers) whose database connections are killed as an
administrator or a database restart would (pg_terminate_backend, KILL): reads go on, a request
caught in the act answers 503 in the error shape with Retry-After (never gunicorn's HTML page),
and the server carries on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from taskmanager import create_app
from taskmanager.config import load_settings
from taskmanager.models import User, db

from ..conftest import make_env
from ..support import databases, rows
from ..support.connections import admin_engine, kill_ids, server_connections
from ..support.servers import serve

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.skipif(
        databases.backend_name() == "sqlite", reason="SQLite has no connections to kill"
    ),
]


@dataclass
class Server:
    url: str
    database_url: str
    token: str
    task_id: int

    def call(self, method: str, path: str) -> requests.Response:
        # A new connection each time, so that both workers answer.
        return requests.request(
            method,
            f"{self.url}/api/v1{path}",
            headers={"Authentication-Token": self.token, "Connection": "close"},
            timeout=60,
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("killed")
    url = databases.create_database(tmp, prefix="tm_kill")
    env = make_env(url, tmp / "instance")
    app = create_app(load_settings(env))
    try:
        with app.app_context():
            admin = db.session.scalars(select(User).where(User.username == "admin")).one()
            task_id = rows.tasks(db.session, 1, assignees=[admin])[0]
            db.session.commit()
            token = admin.get_auth_token()
        with serve(env, tmp, workers=2) as process:
            yield Server(url=process.url, database_url=url, token=token, task_id=task_id)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        databases.drop_database(url)


def test_requests_go_on_after_every_connection_of_the_server_was_killed(server: Server) -> None:
    for _ in range(10):
        assert server.call("GET", f"/tasks/{server.task_id}").status_code == 200
    killed = server_connections(server.database_url)
    assert killed, "the server holds no connection to kill"
    kill_ids(server.database_url, killed)
    # Changes first: each worker finds its pooled connections dead, and nothing of the request
    # has run on them yet.
    changes = [server.call("PUT", f"/tasks/{server.task_id}/lock").status_code for _ in range(4)]
    reads = [server.call("GET", f"/tasks/{server.task_id}").status_code for _ in range(10)]
    assert changes == [200] * 4
    assert reads == [200] * 10


def test_a_change_caught_when_its_connection_is_killed_answers_503_json(server: Server) -> None:
    locker = create_engine(server.database_url, poolclass=NullPool)
    answer: list[requests.Response] = []
    with locker.connect() as holding:
        holding.execute(
            text("SELECT id FROM tasks WHERE id = :id FOR UPDATE"), {"id": server.task_id}
        )
        request = threading.Thread(
            target=lambda: answer.append(server.call("PUT", f"/tasks/{server.task_id}/lock"))
        )
        request.start()
        kill_ids(server.database_url, [_waiting_for_the_row(server.database_url)])
        request.join(timeout=60)
        holding.rollback()
    locker.dispose()

    (response,) = answer
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Retry-After"] == "1"
    assert set(response.json()) == {"message"}
    retried = server.call("PUT", f"/tasks/{server.task_id}/lock")
    assert retried.status_code == 200, retried.text
    assert retried.json()["username"] == "admin"


def _waiting_for_the_row(database_url: str) -> int:
    """The id of the server's connection that waits for the row lock the test holds."""
    backend = admin_engine(database_url)
    if backend.dialect.name == "postgresql":
        query = text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE tasks%'"
        )
    else:
        query = text(
            "SELECT id FROM information_schema.processlist WHERE db = DATABASE() "
            "AND info LIKE 'UPDATE tasks%'"
        )
    deadline = time.monotonic() + 30
    try:
        with backend.connect() as admin:
            while (found := admin.execute(query).scalar()) is None:
                assert time.monotonic() < deadline, "no request waited for the row"
                time.sleep(0.02)
            return int(found)
    finally:
        backend.dispose()
