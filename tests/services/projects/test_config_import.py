import pytest
from flask_security.utils import verify_password
from sqlalchemy import func, select

from taskmanager.models import Group, Role, Tag, TaskTemplate, User
from taskmanager.services.accounts import groups
from taskmanager.services.kit.errors import Conflict, InvalidInput, NotFound
from taskmanager.services.projects import config_import

CONFIG = """
roles:
  - name: reviewer
    description: Reviews
    permissions: [task_read, task_update_status]
users:
  - username: alice
    name: Alice
    email: alice@example.org
    password: alice-pass
    assignment_weight: 0.5
    roles: [reviewer]
  - username: bob
    email: bob@example.org
    password: bob-pass
groups:
  - groupname: team
    name: The team
    members: [alice, bob]
tags: [urgent, 2024]
templates:
  - label: review
    content: {scans: [{label: T1}]}
"""


def _import(session, text: str, overwrite: bool = False):
    definition = config_import.parse_definition(text)
    result = config_import.import_config(session, definition=definition, overwrite=overwrite)
    session.commit()
    return result


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_creates_everything_listed(session) -> None:
    result = _import(session, CONFIG)
    assert [r.name for r in result.roles] == ["reviewer"]
    assert [u.username for u in result.users] == ["alice", "bob"]
    assert [g.groupname for g in result.groups] == ["team"]
    assert [t.name for t in result.tags] == ["urgent", "2024"]
    assert [t.label for t in result.templates] == ["review"]
    alice = session.scalars(select(User).where(User.username == "alice")).one()
    assert [r.name for r in alice.roles] == ["reviewer"]
    assert alice.assignment_weight == 0.5
    assert verify_password("alice-pass", alice.password)
    bob = session.scalars(select(User).where(User.username == "bob")).one()
    assert [r.name for r in bob.roles] == ["user"]
    team = groups.get_or_raise(session, reference="team")
    assert [u.username for u in team.users] == ["alice", "bob"]


def test_create_only_leaves_existing_records_alone(session) -> None:
    _import(session, CONFIG)
    changed = CONFIG.replace("name: Alice", "name: Changed").replace("name: The team", "name: T2")
    result = _import(session, changed + "  - label: second\n    content: 'a: 1'\n")
    assert result.users == [] and result.groups == [] and result.roles == []
    assert [t.label for t in result.templates] == ["second"]
    assert session.scalars(select(User.name).where(User.username == "alice")).one() == "Alice"
    assert session.scalars(select(Group.name)).one() == "The team"


def test_overwrite_changes_existing_records(session) -> None:
    _import(session, CONFIG)
    changed = (
        CONFIG.replace("name: Alice", "name: Changed")
        .replace("members: [alice, bob]", "members: [bob]")
        .replace("[task_read, task_update_status]", "[task_read]")
        .replace("password: alice-pass", "password: new-pass")
    )
    result = _import(session, changed, overwrite=True)
    assert len(result.users) == 2 and len(result.tags) == 2
    session.expire_all()
    alice = session.scalars(select(User).where(User.username == "alice")).one()
    assert alice.name == "Changed"
    assert verify_password("new-pass", alice.password)
    assert [u.username for u in groups.get_or_raise(session, reference="team").users] == ["bob"]
    reviewer = session.scalars(select(Role).where(Role.name == "reviewer")).one()
    assert reviewer.permissions == ["task_read"]


@pytest.mark.parametrize(
    ("text", "error_type", "field"),
    [
        ("users: [{username: carol, email: not-an-address}]", InvalidInput, "users[0].email"),
        ("users: [{username: carol, password: 5}]", InvalidInput, "users[0].password"),
        ("users: [{email: c@x.org}]", InvalidInput, "users[0].username"),
        (
            "users: [{username: c, email: c@x.org, password: p, roles: [wizard]}]",
            NotFound,
            "users[0].roles",
        ),
        (
            "users: [{username: c, email: c@x.org, password: p, colour: red}]",
            InvalidInput,
            "users[0].colour",
        ),
        ("groups: [{groupname: g, members: [ghost]}]", NotFound, "groups[0].members"),
        (
            "roles: [{name: ok}, {name: r, permissions: [fly]}]",
            InvalidInput,
            "roles[1].permissions",
        ),
        ("tags: [urgent, urgent]", InvalidInput, "tags[1].name"),
        ("tags: [{name: '" + "x" * 40 + "'}]", InvalidInput, "tags[0].name"),
        ("templates: [review.yaml]", InvalidInput, "templates[0]"),
        ("templates: [{label: t, content: 'a: [b'}]", InvalidInput, "templates[0].content"),
        ("users: {username: x}", InvalidInput, "users"),
        ("widgets: []", InvalidInput, "widgets"),
        (
            "users:\n - username: admin2\n   email: ADMIN@example.org\n   password: p",
            Conflict,
            "users[0].email",
        ),
    ],
)
def test_bad_entries_are_named_and_nothing_is_stored(session, text, error_type, field) -> None:
    # A good entry is processed first (roles come first), so a partial write would show.
    prefix = "" if text.startswith("roles") else "roles: [{name: before}]\n"
    with pytest.raises(error_type) as error:
        _import(session, prefix + text)
    assert field in error.value.errors, error.value.errors
    session.rollback()
    assert _count(session, Role) == 3
    assert _count(session, Tag) == 0
    assert _count(session, User) == 1
    assert _count(session, TaskTemplate) == 0


@pytest.mark.parametrize("text", ["a: [b", "just text", "", "- a list"])
def test_definition_must_be_a_yaml_mapping(text) -> None:
    with pytest.raises(InvalidInput) as error:
        config_import.parse_definition(text)
    assert "config_definition" in error.value.errors


def test_overwrite_keeps_the_last_admin(session) -> None:
    text = "users:\n - username: admin\n   email: admin@example.org\n   roles: [user]\n"
    with pytest.raises(Conflict) as error:
        _import(session, text, overwrite=True)
    assert "users[0].roles" in error.value.errors


def test_users_without_password_or_email(session) -> None:
    result = _import(session, "users: [{username: service}]")
    service = result.users[0]
    assert service.email == "service@localhost" and service.password is None
    assert [r.name for r in service.roles] == ["user"]


def test_templates_as_loaded_dicts(session) -> None:
    definition = {"templates": [{"label": "viewr", "content": {"scans": [{"label": "T1"}]}}]}
    result = config_import.import_config(session, definition=definition)
    assert result.templates[0].content == '{"scans": [{"label": "T1"}]}'
