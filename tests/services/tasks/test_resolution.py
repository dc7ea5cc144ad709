"""The task rules, checked on the service layer against the real database."""

from __future__ import annotations

import pytest

from taskmanager.services.tasks import creation, resolution

from ...support.task_factories import (
    make_group,
    make_task,
    make_template,
    make_user,
)


@pytest.fixture
def template(session):
    return make_template(session, "tpl")


def test_references_by_id_name_email_or_url(session, template) -> None:
    alice = make_user(session, "alice")
    bob = make_user(session, "bob")
    carol = make_user(session, "carol")
    group = make_group(session, "readers")
    task = make_task(
        session,
        template=template,
        users=[alice.id, "bob", f"/api/v1/users/{carol.id}", "ALICE@example.org"],
        groups=[f"http://server/api/v1/groups/{group.groupname}"],
    )
    assert [u.username for u in task.users] == ["alice", "bob", "carol"]
    assert [g.groupname for g in task.groups] == ["readers"]
    by_id = creation.create(
        session,
        spec=creation.NewTask(project="p", template=template.id, content="x", users=[bob.id]),
        actor=None,
    )
    assert by_id.template_id == template.id


def test_references_are_resolved_in_slices(session, monkeypatch) -> None:
    """More references than one statement may bind (65,535 on PostgreSQL) still resolve."""
    unknown = [f"nobody{i}" for i in range(22_000)]  # 66,000 parameters: id, username, e-mail
    assert resolution.resolve_users(session, [*unknown, "admin"]).keys() == {"admin"}
    monkeypatch.setattr(resolution, "LOOKUP_BATCH", 2)
    names = [make_user(session, f"u{i}").username for i in range(5)]
    assert {
        ref: user.username for ref, user in resolution.resolve_users(session, names).items()
    } == {name: name for name in names}
