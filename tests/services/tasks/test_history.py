"""History rows read as sentences: every detail shape the services write, and odd ones."""

from __future__ import annotations

from typing import Any

import pytest

from taskmanager.models import Task
from taskmanager.services.accounts import users
from taskmanager.services.dispensing import claims, locks, reassignment
from taskmanager.services.flows import task_changes
from taskmanager.services.tasks import creation, details, history

from ...support.task_factories import make_group, make_template, make_user


def sentences(session: Any, task: Task) -> list[str]:
    entries, _total = details.list_history(session, task=task)
    return [history.describe(e.action, e.detail, e.actor_username) for e in entries]


@pytest.fixture
def people(session: Any) -> dict[str, Any]:
    make_template(session, "tpl")
    found = {
        "admin": users.get_or_raise(session, reference="admin"),
        "alice": make_user(session, "alice"),
        "bob": make_user(session, "bob", weight=0),
    }
    make_group(session, "neuro-readers", [found["alice"], found["bob"]])
    session.commit()
    return found


def new(session: Any, actor: Any, **fields: Any) -> Task:
    fields.setdefault("project", "p")
    return creation.create(
        session, spec=creation.NewTask(template="tpl", content={}, **fields), actor=actor
    )


def test_a_task_through_its_life_reads_as_sentences(session: Any, people: Any) -> None:
    admin, alice, bob = people["admin"], people["alice"], people["bob"]
    task = new(session, admin, users=["alice"])
    locks.lock(session, task=task, actor=alice)
    locks.release(session, task=task, actor=admin)
    locks.lock(session, task=task, actor=admin, target=bob)
    locks.release(session, task=task, actor=bob)
    task_changes.update(
        session, task=task, changes={"users": ["bob"], "project": "q", "tags": ["t"]}, actor=admin
    )
    task_changes.update(session, task=task, changes={"content": {"x": 1}}, actor=admin)
    locks.lock(session, task=task, actor=bob)
    task_changes.set_status(session, task=task, status="done", actor=bob)
    session.commit()

    assert sentences(session, task) == [
        "created by admin in project p, assigned to alice",
        "locked by alice",
        "lock of alice released by admin",
        "locked to bob by admin",
        "lock released by bob",
        "edited by admin: project from p to q; tags from none to t",
        "assignment changed from alice to bob by admin",
        "edited by admin: content",
        "locked by bob",
        "status changed from queued to done by bob",
        "lock released by bob, as the task was done",
    ]


def test_automatic_assignment_and_claims_name_the_group(session: Any, people: Any) -> None:
    task = new(session, people["admin"], distribute_in_group="neuro-readers")
    session.commit()
    claimed = claims.claim_next(session, user=people["alice"])
    session.commit()
    assert claimed is not None and claimed.id == task.id
    assert sentences(session, task) == [
        "created by admin in project p, assigned automatically to alice from group neuro-readers",
        "claimed by alice as the next task, and locked",
    ]


def test_a_reassignment_names_both_sides(session: Any, people: Any) -> None:
    task = new(session, people["admin"], users=["alice"], groups=["neuro-readers"])
    session.commit()
    reassignment.reassign_open(
        session, from_user=people["alice"], to_user=people["bob"], actor=people["admin"]
    )
    session.commit()
    assert sentences(session, task)[-1] == (
        "moved from alice to bob, group neuro-readers by admin (reassigning open tasks)"
    )


@pytest.mark.parametrize(
    ("action", "detail", "actor", "expected"),
    [
        ("create", {"project": "p"}, None, "created by the server in project p"),
        (
            "status",
            {"old": "queued", "new": "aborted", "because_of_task": 7},
            "admin",
            "status changed from queued to aborted by admin, because of task 7",
        ),
        (
            "edit",
            {"taskgroup": {"old": None, "new": 3}},
            "admin",
            "edited by admin: taskgroup from none to 3",
        ),
        (
            "edit",
            {"callback_content": {"old": "x" * 100, "new": "y"}},
            "admin",
            f"edited by admin: callback_content from {'x' * 59}… to y",
        ),
        ("delete", None, "admin", "deleted by admin"),
        ("unlock", {"user": None}, "admin", "lock released by admin"),
        (
            "assign",
            {"old": {}, "new": {"users": [], "groups": []}},
            "admin",
            "assignment changed from nobody to nobody by admin",
        ),
        ("status", ["not", "a", "mapping"], "bob", "status changed from ? to ? by bob"),
        ("archive", None, "bob", "archive by bob"),
    ],
)
def test_other_shapes_still_read(
    action: str, detail: Any, actor: str | None, expected: str
) -> None:
    assert history.describe(action, detail, actor) == expected
