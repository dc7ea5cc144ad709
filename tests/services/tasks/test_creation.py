"""The task rules, checked on the service layer against the real database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from taskmanager.models import (
    Tag,
    Task,
    TaskHistory,
    User,
)
from taskmanager.services.kit.errors import InvalidInput, KeyReused, NotFound
from taskmanager.services.tasks import creation

from ...support.task_factories import (
    make_group,
    make_task,
    make_template,
    make_user,
)


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


def _keyed(key: str | None, content: str = "x", **fields) -> creation.NewTask:
    fields.setdefault("users", ["admin"])
    return creation.NewTask(
        project="p", template="tpl", content=content, idempotency_key=key, **fields
    )


def test_a_key_names_one_task_and_a_retry_answers_it(session, admin, template) -> None:
    task, created = creation.get_or_create(session, spec=_keyed("k1", tags=["a"]), actor=admin)
    assert created and task.idempotency_key == "k1"
    # The same request again, naming the template by id and the user by URL: the same task.
    again = creation.NewTask(
        project="p",
        template=template.id,
        content="x",
        users=[f"/api/v1/users/{admin.id}"],
        tags=["a"],
        idempotency_key="k1",
    )
    assert creation.get_or_create(session, spec=again, actor=admin) == (task, False)
    assert creation.create(session, spec=again, actor=admin) == task
    assert _count(session, Task) == 1
    assert _count(session, TaskHistory) == 1


def test_tasks_without_a_key_are_created_every_time(session, admin, template) -> None:
    for _ in range(2):
        creation.create_many(session, specs=[_keyed(None), _keyed(None)], actor=admin)
    assert _count(session, Task) == 4
    assert session.scalar(select(func.count()).where(Task.idempotency_key.is_not(None))) == 0


def test_create_many_skips_the_tasks_already_present(session, admin, template) -> None:
    first = creation.create_many(
        session, specs=[_keyed("a", "1", tags=["t"]), _keyed("b", "2")], actor=admin
    )
    assert [summary.already_present for summary in first] == [False, False]
    specs = [_keyed("c", "3"), _keyed("a", "1", tags=["t"]), _keyed(None, "4"), _keyed("b", "2")]
    second = creation.create_many(session, specs=specs, actor=admin)
    assert [summary.already_present for summary in second] == [False, True, False, True]
    assert [second[1].id, second[3].id] == [first[0].id, first[1].id]
    assert second[1].tags == first[0].tags and [name for _, name in second[1].tags] == ["t"]
    assert _count(session, Task) == 4
    # The same key twice in one request: one task.
    twice = creation.create_many(session, specs=[_keyed("d", "5"), _keyed("d", "5")], actor=admin)
    assert twice[0].id == twice[1].id and [s.already_present for s in twice] == [False, True]
    assert _count(session, Task) == 5


@pytest.mark.parametrize(
    "changed",
    [
        {"content": "other"},
        {"tags": ["new"]},
        {"users": [], "groups": ["team"]},
        {"tracking_id": "t-1"},
        {"callback_url": "http://cb.example.org/"},
    ],
)
def test_a_key_reused_with_other_values_is_refused_naming_it(
    session, admin, template, changed
) -> None:
    make_group(session, "team", [admin])
    creation.create(session, spec=_keyed("k"), actor=admin)
    with pytest.raises(KeyReused) as error:
        creation.get_or_create(session, spec=_keyed("k", **changed), actor=admin)
    assert error.value.status_code == 422
    assert list(error.value.errors) == ["idempotency_key"]
    assert "'k'" in error.value.message
    with pytest.raises(KeyReused) as error:
        creation.create_many(session, specs=[_keyed("fresh"), _keyed("k", **changed)], actor=admin)
    assert list(error.value.errors) == ["1.idempotency_key"]
    assert error.value.message == "1 of 2 tasks reuse an idempotency key with other values"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "must not be empty"),
        (" k", "must not start or end with spaces"),
        ("k" * 256, "at most 255 characters"),
        ("a\x00b", "NUL"),
    ],
)
def test_bad_keys_are_refused(session, admin, template, key, reason) -> None:
    with pytest.raises(InvalidInput) as error:
        creation.create_many(session, specs=[_keyed("ok"), _keyed(key)], actor=admin)
    assert reason in error.value.errors["1.idempotency_key"][0]
    assert _count(session, Task) == 0
