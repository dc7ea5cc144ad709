"""The official client (PyPI task-client 1.0.1) against a real server process.

The first test needs only the task routes. The others also need routes built by other work
(templates, tags and groups; locks): they are deselected until those routes are registered and
then run unchanged (see conftest.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import taskclient
from sqlalchemy import select

from taskmanager import create_app
from taskmanager.config import load_settings
from taskmanager.models import User, db

from ..conftest import make_env
from ..support import databases
from ..support.servers import serve
from ..support.task_factories import PASSWORD, make_group, make_task, make_template, make_user

VIEWR_TEMPLATE = {"template_name": "viewr", "scans": [{"label": "T1"}, {"label": "FLAIR"}]}
TEMPLATE_ROUTES = [
    ("GET", "/api/v1/task_templates/1"),
    ("GET", "/api/v1/tags"),
    ("GET", "/api/v1/tags/1"),
    ("GET", "/api/v1/groups/1"),
    ("GET", "/api/v1/groups/1/users"),
    ("GET", "/api/v1/users/1/groups"),
]
LOCK_ROUTES = [
    ("GET", "/api/v1/tasks/1/lock"),
    ("PUT", "/api/v1/tasks/1/lock"),
    ("DELETE", "/api/v1/tasks/1/lock"),
]


def _seed(env: dict[str, str]) -> dict[str, Any]:
    """alice: `read` (tags study, batch-1), `finish` and `lock`; her group: `shared`; bob: one."""
    app = create_app(load_settings(env))
    try:
        with app.app_context():
            session = db.session
            make_template(session, "viewr", VIEWR_TEMPLATE)
            alice = make_user(session, "alice")
            make_user(session, "bob")
            make_group(session, "team", [alice])
            content = {"template": "viewr", "scan_sources": {"T1": "http://x/1", "FLAIR": "f"}}
            ids = {
                "read": make_task(
                    session,
                    template="viewr",
                    users=["alice"],
                    tags=["study", "batch-1"],
                    project="study",
                    content=content,
                    callback_url="http://127.0.0.1:9/callback",
                    application_name="ViewR",
                ).id,
                "shared": make_task(session, template="viewr", groups=["team"], tags=["study"]).id,
                "finish": make_task(session, template="viewr", users=["alice"]).id,
                "lock": make_task(session, template="viewr", users=["alice"]).id,
                "bobs": make_task(session, template="viewr", users=["bob"]).id,
            }
            session.commit()
            alice_id = session.scalars(select(User.id).where(User.username == "alice")).one()
            return {"tasks": ids, "alice": alice_id}
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("task-client")
    with databases.scratch_database(base) as url:
        env = make_env(url, base / "instance")
        with serve(env, base, workers=2) as process:
            yield {"url": process.url, "env": env, **_seed(env)}


@pytest.fixture
def alice(server) -> Iterator[Any]:
    client = taskclient.connect(
        server["url"], user="alice", password=PASSWORD, loglevel=logging.ERROR
    )
    yield client
    client.interface.close()


def test_task_client_reads_and_finishes_tasks(server, alice) -> None:
    ids = server["tasks"]
    assert alice.api_version == 1.0
    listed = alice.get_tasks()
    assert [task.id for task in listed] == sorted(
        [ids["read"], ids["shared"], ids["finish"], ids["lock"]]
    )
    assert [task.id for task in alice.get_tasks(tag="study", project="study")] == [ids["read"]]
    assert [t.id for t in alice.get_tasks(status="queued", offset=1, limit=2)] == sorted(
        [ids["read"], ids["shared"], ids["finish"], ids["lock"]]
    )[1:3]
    assert [t.id for t in alice.get_tasks(application_name="ViewR")] == [ids["read"]]

    task = next(task for task in listed if task.id == ids["read"])
    assert (task.status, task.project) == ("queued", "study")
    assert json.loads(task.content)["scan_sources"]["T1"] == "http://x/1"
    assert task.callback_url == "http://127.0.0.1:9/callback"
    assert task.application_name == "ViewR"
    assert task.create_time and task.update_time
    assert len(task.tags) == 2 and all("/api/v1/tags/" in tag.uri for tag in task.tags)
    (user,) = task.users
    assert user.username == "alice"
    assert ids["read"] in [t.id for t in user.tasks]
    shared = next(task for task in listed if task.id == ids["shared"])
    assert [u.username for u in shared.users_via_group] == ["alice"]
    assert len(shared.groups) == 1

    finish = next(task for task in listed if task.id == ids["finish"])
    finish.status = "done"
    finish.clearcache()
    assert finish.status == "done"
    assert ids["finish"] not in [t.id for t in alice.get_tasks(status="queued")]
    assert ids["finish"] in [t.id for t in alice.get_tasks(status="done")]


def test_task_client_refuses_tasks_of_others(server, alice) -> None:
    from taskclient.exceptions import TaskManagerResponseError

    with pytest.raises(TaskManagerResponseError) as error:
        alice.get_json(f"/tasks/{server['tasks']['bobs']}")
    assert error.value.status_code == 404


@pytest.mark.requires_routes(*TEMPLATE_ROUTES)
def test_task_client_follows_templates_tags_and_groups(server, alice) -> None:
    task = next(t for t in alice.get_tasks() if t.id == server["tasks"]["read"])
    assert task.template.label == "viewr"
    assert "scans" in task.template.content
    assert alice.get_template("viewr").label == "viewr"
    assert sorted(tag.name for tag in task.tags) == ["batch-1", "study"]
    assert sorted(tag.name for tag in alice.get_tags()) == ["batch-1", "study"]
    study = next(tag for tag in alice.get_tags() if tag.name == "study")
    assert sorted(t.id for t in study.tasks) == sorted(
        [server["tasks"]["read"], server["tasks"]["shared"]]
    )
    shared = next(t for t in alice.get_tasks() if t.id == server["tasks"]["shared"])
    (group,) = shared.groups
    assert group.groupname == "team"
    assert [user.username for user in group.users] == ["alice"]
    (user,) = task.users
    assert [g.groupname for g in user.groups] == ["team"]


@pytest.mark.requires_routes(*LOCK_ROUTES)
def test_task_client_locks(server, alice) -> None:
    task = next(t for t in alice.get_tasks() if t.id == server["tasks"]["lock"])
    assert task.lock == {"lock": None, "username": None, "error": None}
    assert task.change_lock("alice") is True
    assert task.lock["username"] == "alice"
    assert task.change_lock("alice") is True  # locking again is idempotent
    assert task.change_lock(None) is True
    assert task.lock["lock"] is None
    task.change_lock("alice")
    task.status = "done"  # done releases the lock
    assert task.lock["lock"] is None
