"""The task rules, checked on the service layer against the real database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from taskmanager.models import (
    CallbackDelivery,
    Tag,
    Task,
    TaskHistory,
    User,
    task_users,
    utcnow,
)
from taskmanager.services.flows import task_changes
from taskmanager.services.kit.errors import Forbidden, InvalidInput, NotFound
from taskmanager.services.tasks import creation, details, editing, resolution

from ..support.task_factories import (
    build_world,
    make_group,
    make_task,
    make_template,
    make_user,
    set_meta,
)

VIEWR_TEMPLATE = {
    "template_name": "viewr",
    "scans": [{"label": "T1", "modality": "MR"}, {"label": "FLAIR", "modality": "MR"}],
}


@pytest.fixture
def admin(session) -> User:
    return session.scalars(select(User).where(User.username == "admin")).one()


@pytest.fixture
def template(session):
    return make_template(session, "tpl")


def _history(session, task_id: int) -> list[tuple[str, dict | None]]:
    rows = session.execute(
        select(TaskHistory.action, TaskHistory.detail)
        .where(TaskHistory.task_id == task_id)
        .order_by(TaskHistory.id)
    )
    return [(action, json.loads(detail) if detail else None) for action, detail in rows]


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# --- creating --------------------------------------------------------------------------------


def test_create_stores_raw_content_and_defaults(session, admin, template) -> None:
    task = make_task(session, actor=admin, content={"template": "tpl", "n": 1})
    assert task.status == "queued"
    assert task.raw_content == '{"template": "tpl", "n": 1}'
    assert task.tracking_id == "unassigned"
    assert task.template_id == template.id
    assert task.create_time == task.update_time
    assert [user.username for user in task.users] == ["admin"]
    assert _history(session, task.id) == [
        ("create", {"project": "proj", "users": ["admin"], "groups": []}),
    ]


def test_content_text_is_kept_as_given(session, template) -> None:
    yaml_text = "template: tpl\nname: $NAME\n"
    assert make_task(session, content=yaml_text).raw_content == yaml_text


def test_raw_fields_win_over_rendered_ones(session, template) -> None:
    task = make_task(
        session,
        content="rendered",
        raw_content="raw $X",
        callback_url="http://a/",
        raw_callback_url="$HOST/cb",
        callback_content={"ok": True},
    )
    assert task.raw_content == "raw $X"
    assert task.raw_callback_url == "$HOST/cb"
    assert task.callback_content == '{"ok": true}'


def test_callback_url_is_stored_raw(session, template) -> None:
    assert make_task(session, callback_url="http://x/$ID").raw_callback_url == "http://x/$ID"


def test_content_is_required(session, template) -> None:
    with pytest.raises(InvalidInput) as error:
        creation.create(session, spec=creation.NewTask(project="p", template="tpl"), actor=None)
    assert "content" in error.value.errors


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project", "p" * 65),
        ("tracking_id", "t" * 101),
        ("generator_url", "g" * 513),
        ("callback_url", "c" * 513),
        ("application_name", "a" * 33),
        ("application_version", "v" * 17),
    ],
)
def test_values_longer_than_their_column_are_refused(session, template, field, value) -> None:
    with pytest.raises(InvalidInput) as error:
        make_task(session, **{field: value})
    assert field in error.value.errors


@pytest.mark.parametrize("field", ["template", "users", "groups", "distribute_in_group"])
def test_unknown_references_are_404(session, template, field) -> None:
    value = "nobody" if field in ("template", "distribute_in_group") else ["nobody"]
    fields = {field: value, "users": [] if field != "users" else value}
    if field == "template":
        with pytest.raises(NotFound) as error:
            creation.create(
                session,
                spec=creation.NewTask(project="p", template="nobody", content="x", users=["admin"]),
                actor=None,
            )
    else:
        with pytest.raises(NotFound) as error:
            make_task(session, **fields)
    assert field in error.value.errors


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


def test_users_with_distribute_in_group_is_refused(session, template) -> None:
    make_group(session, "g")
    with pytest.raises(InvalidInput) as error:
        make_task(session, users=["admin"], distribute_in_group="g")
    assert "distribute_in_group" in error.value.errors


def test_task_without_users_or_groups_goes_to_one_user(session, admin, template) -> None:
    make_user(session, "zero", weight=0)
    make_user(session, "gone", active=False)
    task = creation.create(
        session, spec=creation.NewTask(project="p", template="tpl", content="x"), actor=admin
    )
    assigned = [user.username for user in task.users]
    assert assigned == ["admin"]  # the only active user with a weight above 0
    assert _history(session, task.id) == [
        ("create", {"project": "p", "users": ["admin"], "automatic": True})
    ]


def test_distribute_in_group_picks_a_member(session, template) -> None:
    alice = make_user(session, "alice")
    make_user(session, "bob")
    make_group(session, "team", [alice])
    task = creation.create(
        session,
        spec=creation.NewTask(project="p", template="tpl", content="x", distribute_in_group="team"),
        actor=None,
    )
    assert [user.username for user in task.users] == ["alice"]
    assert task.groups == []


def test_tags_are_created_once_and_reused(session, template) -> None:
    first = make_task(session, tags=["b", "a"])
    second = make_task(session, tags=["a", "c", "a"])
    assert [tag.name for tag in first.tags] == ["b", "a"] or sorted(t.name for t in first.tags) == [
        "a",
        "b",
    ]
    assert sorted(tag.name for tag in second.tags) == ["a", "c"]
    assert _count(session, Tag) == 3


def test_existing_tags_by_id_or_url(session, template) -> None:
    tag_id = make_task(session, tags=["x"]).tags[0].id
    task = make_task(session, tags=[tag_id, f"/api/v1/tags/{tag_id}"])
    assert [tag.name for tag in task.tags] == ["x"]
    with pytest.raises(NotFound):
        make_task(session, tags=[9999])


def test_tag_names_are_checked(session, template) -> None:
    with pytest.raises(InvalidInput) as error:
        make_task(session, tags=["t" * 33])
    assert "tags" in error.value.errors


# --- scans -----------------------------------------------------------------------------------


def test_matching_scan_sources_are_accepted(session) -> None:
    make_template(session, "viewr", VIEWR_TEMPLATE)
    content = {"template": "viewr", "scan_sources": {"T1": "http://x/t1", "FLAIR": "http://x/f"}}
    assert make_task(session, template="viewr", content=content).id


def test_scan_mismatch_names_missing_and_extra(session) -> None:
    make_template(session, "viewr", VIEWR_TEMPLATE)
    content = {"scan_sources": {"T1": "a", "T2": "b"}}
    with pytest.raises(InvalidInput) as error:
        make_task(session, template="viewr", content=content)
    message = error.value.errors["content"][0]
    assert "missing FLAIR" in message and "extra T2" in message
    assert error.value.extra == {"missing_scans": ["FLAIR"], "extra_scans": ["T2"]}


def test_scan_check_reads_yaml_templates_and_text_content(session) -> None:
    make_template(session, "yaml", "template_name: yaml\nscans:\n  - label: T1\n  - label: T2\n")
    with pytest.raises(InvalidInput):
        make_task(session, template="yaml", content=json.dumps({"scan_sources": {"T1": "a"}}))
    with pytest.raises(InvalidInput):
        make_task(session, template="yaml", content="scan_sources:\n  T1: a\n")
    ok = make_task(session, template="yaml", content="scan_sources:\n  T1: a\n  T2: b\n")
    assert ok.id


def test_no_scan_check_without_declared_scans_or_scan_sources(session) -> None:
    make_template(session, "plain", {"template_name": "plain"})
    make_template(session, "viewr", VIEWR_TEMPLATE)
    assert make_task(session, template="plain", content={"scan_sources": {"X": "a"}}).id
    assert make_task(session, template="viewr", content={"name": "no scans given"}).id


def test_changing_template_or_content_is_checked_too(session, admin) -> None:
    make_template(session, "plain", {"template_name": "plain"})
    make_template(session, "viewr", VIEWR_TEMPLATE)
    task = make_task(session, template="plain", content={"scan_sources": {"X": "a"}})
    with pytest.raises(InvalidInput):
        task_changes.update(session, task=task, changes={"template": "viewr"}, actor=admin)
    other = make_task(session, template="viewr", content={"name": "n"})
    with pytest.raises(InvalidInput):
        task_changes.update(
            session, task=other, changes={"content": {"scan_sources": {"T1": "a"}}}, actor=admin
        )


# --- bulk ------------------------------------------------------------------------------------


def test_create_many_is_all_or_nothing(session, admin, template) -> None:
    specs = [creation.NewTask(project="p", template="tpl", content="x", users=["admin"])] * 5
    bad = [*specs[:2], creation.NewTask(project="p", template="nope", content="x"), *specs[2:]]
    bad.append(creation.NewTask(project="", template="tpl", content="x", users=["nobody"]))
    with pytest.raises(InvalidInput) as error:
        creation.create_many(session, specs=bad, actor=admin)
    assert set(error.value.errors) == {"2.template", "6.project", "6.users"}
    assert _count(session, Task) == 0
    created = creation.create_many(session, specs=specs, actor=admin)
    assert [summary.id for summary in created] == sorted(summary.id for summary in created)
    assert _count(session, Task) == 5


def test_create_many_reports_rejected_elements_with_the_rest(session, admin, template) -> None:
    with pytest.raises(InvalidInput) as error:
        creation.create_many(
            session,
            specs=[None, creation.NewTask(project="p", template="x", content="c")],
            actor=admin,
            rejected={"0.project": ["Field required"]},
        )
    assert list(error.value.errors) == ["0.project", "1.template"]


def test_create_many_limits(session, admin, template) -> None:
    with pytest.raises(InvalidInput):
        creation.create_many(session, specs=[], actor=admin)
    spec = creation.NewTask(project="p", template="tpl", content="x", users=["admin"])
    with pytest.raises(InvalidInput):
        creation.create_many(session, specs=[spec] * (creation.BULK_CREATE_MAX + 1), actor=admin)


def test_create_many_links_tags_users_groups_and_history(session, admin, template) -> None:
    alice = make_user(session, "alice")
    group = make_group(session, "team", [alice])
    specs = [
        creation.NewTask(
            project="p", template="tpl", content="x", tags=["a", "b"], users=["alice"]
        ),
        creation.NewTask(project="p", template="tpl", content="y", groups=["team"], tags=["b"]),
        creation.NewTask(project="p", template="tpl", content="z", distribute_in_group="team"),
    ]
    created = creation.create_many(session, specs=specs, actor=admin)
    assert [[name for _, name in s.tags] for s in created] == [["a", "b"], ["b"], []]
    first, second, third = (session.get(Task, s.id) for s in created)
    assert [u.username for u in first.users] == ["alice"]
    assert second.groups == [group] and second.users == []
    session.expire(third)
    assert [u.username for u in third.users] == ["alice"]
    assert _history(session, third.id) == [
        (
            "create",
            {"project": "p", "users": ["alice"], "automatic": True, "distribute_in_group": "team"},
        )
    ]


@pytest.fixture
def world(session, admin):
    return build_world(session, admin)


# --- changing --------------------------------------------------------------------------------


def test_field_gates_refuse_the_whole_change(session, world) -> None:
    t1 = session.get(Task, world["tasks"][0])
    alice = world["alice"]
    with pytest.raises(Forbidden) as error:
        task_changes.update(
            session, task=t1, changes={"status": "done", "project": "x"}, actor=alice
        )
    assert set(error.value.errors) == {"project"}
    with pytest.raises(Forbidden) as error:
        task_changes.update(session, task=t1, changes={"users": ["bob"]}, actor=alice)
    assert set(error.value.errors) == {"users"}
    session.refresh(t1)
    assert (t1.status, t1.project) == ("queued", "p1")


def test_user_may_set_status_of_own_task_superuser_of_any(session, world) -> None:
    t1, t2, t3, _ = (session.get(Task, i) for i in world["tasks"])
    task_changes.update(session, task=t2, changes={"status": "done"}, actor=world["alice"])
    assert t2.status == "done"
    with pytest.raises(Forbidden):
        task_changes.update(session, task=t3, changes={"status": "done"}, actor=world["alice"])
    task_changes.update(session, task=t3, changes={"status": "aborted"}, actor=world["sue"])
    assert t3.status == "aborted"
    task_changes.update(session, task=t1, changes={"users": ["bob"]}, actor=world["sue"])
    assert [u.username for u in t1.users] == ["bob"]


def test_update_edits_and_records_history(session, world) -> None:
    admin = world["admin"]
    task = session.get(Task, world["tasks"][0])
    task_changes.update(
        session,
        task=task,
        changes={
            "project": "renamed",
            "content": {"a": 1},
            "callback_url": "http://cb/$X",
            "tags": ["z", "x"],
            "groups": ["team"],
            "users": [],
            "tracking_id": "ext-1",
        },
        actor=admin,
    )
    session.refresh(task)
    assert task.project == "renamed"
    assert task.raw_content == '{"a": 1}'
    assert task.raw_callback_url == "http://cb/$X"
    assert sorted(tag.name for tag in task.tags) == ["x", "z"]
    assert [g.groupname for g in task.groups] == ["team"] and task.users == []
    actions = [action for action, _ in _history(session, task.id)]
    assert actions[-2:] == ["edit", "assign"]
    edit = _history(session, task.id)[-2][1]
    assert edit["project"] == {"old": "p1", "new": "renamed"}
    assert edit["raw_content"] == {"changed": True}


@pytest.mark.parametrize(
    "changes",
    [
        {"project": None},
        {"status": ""},
        {"status": "s" * 65},
        {"template": "nope"},
        {"users": ["nobody"]},
        {"tags": ["t" * 40]},
    ],
)
def test_bad_updates_change_nothing(session, world, changes) -> None:
    task = session.get(Task, world["tasks"][0])
    with pytest.raises((InvalidInput, NotFound)):
        task_changes.update(session, task=task, changes=changes, actor=world["admin"])
    session.expire_all()
    task = session.get(Task, world["tasks"][0])
    assert (task.project, task.status, [u.username for u in task.users]) == (
        "p1",
        "queued",
        ["alice"],
    )


def test_done_releases_lock_records_finisher_and_queues_callback(session, world) -> None:
    set_meta(session, "HOST", "http://hooks")
    alice = world["alice"]
    task = make_task(
        session, users=["alice"], callback_url="$HOST/done", callback_content={"id": 7}
    )
    task.lock_id, task.lock_time = alice.id, utcnow()
    session.flush()
    assert task_changes.mark_done(session, task=task, actor=alice) is True
    session.expire_all()
    task = session.get(Task, task.id)
    assert (task.status, task.lock_id, task.done_by_id) == ("done", None, alice.id)
    assert task.done_time is not None
    (delivery,) = session.scalars(select(CallbackDelivery)).all()
    assert (delivery.url, delivery.body, delivery.task_id) == (
        "http://hooks/done",
        '{"id": 7}',
        task.id,
    )
    actions = [action for action, _ in _history(session, task.id)]
    assert actions[-2:] == ["status", "unlock"]
    # Done again: no transition, no second callback.
    assert task_changes.mark_done(session, task=task, actor=alice) is False
    assert _count(session, CallbackDelivery) == 1


def test_other_statuses_queue_no_callback(session, world) -> None:
    task = make_task(session, callback_url="http://x/")
    assert task_changes.set_status(session, task=task, status="aborted", actor=None)
    assert task_changes.set_status(session, task=task, status="in-review", actor=None)
    assert _count(session, CallbackDelivery) == 0
    assert task.status == "in-review"


def test_delete_removes_task_links_and_history(session, world) -> None:
    task = session.get(Task, world["tasks"][0])
    task_id = task.id
    editing.delete(session, task=task)
    session.flush()
    assert session.get(Task, task_id) is None
    assert session.scalar(select(func.count()).where(task_users.c.task_id == task_id)) == 0
    assert (
        session.scalar(
            select(func.count()).select_from(TaskHistory).where(TaskHistory.task_id == task_id)
        )
        == 0
    )


def test_history_lists_oldest_first_with_actor(session, world) -> None:
    task = session.get(Task, world["tasks"][0])
    task_changes.set_status(session, task=task, status="done", actor=world["alice"])
    entries, total = details.list_history(session, task=task)
    assert total == len(entries) == 2
    assert [e.action for e in entries] == ["create", "status"]
    assert entries[-1].actor_username == "alice"
    assert entries[-1].detail == {"old": "queued", "new": "done"}
    entries, total = details.list_history(session, task=task, offset=1, limit=1)
    assert [e.action for e in entries] == ["status"] and total == 2
