import pytest
from sqlalchemy import func, select

from taskmanager.models import Group, User, group_membership
from taskmanager.services.accounts import groups
from taskmanager.services.kit.errors import Conflict, Forbidden, InvalidInput, NotFound

from ...support.accounts import make_user


def _member_names(session, group: Group) -> list[str]:
    session.expire(group, ["users"])
    return [user.username for user in group.users]


def test_create_with_members_and_default_name(session) -> None:
    alice = make_user(session, "alice", "user")
    group = groups.create(session, groupname="readers", users=[alice])
    session.commit()
    assert group.name == "readers"
    assert _member_names(session, group) == ["alice"]
    assert groups.get_by_reference(session, reference=f"/api/v1/groups/{group.id}") is group
    assert groups.get_by_reference(session, reference="readers") is group


def test_create_refuses_bad_and_taken_names(session) -> None:
    groups.create(session, groupname="readers", name="The readers")
    session.commit()
    with pytest.raises(Conflict) as error:
        groups.create(session, groupname="readers")
    assert "groupname" in error.value.errors
    with pytest.raises(Conflict) as error:
        groups.create(session, groupname="other", name="The readers")
    assert "name" in error.value.errors
    for bad in ("", "x" * 65, "a/b", " padded"):
        with pytest.raises(InvalidInput) as error:
            groups.create(session, groupname=bad)
        assert "groupname" in error.value.errors


def test_update_replaces_members_and_renames(session) -> None:
    alice = make_user(session, "alice", "user")
    bob = make_user(session, "bob", "user")
    group = groups.create(session, groupname="readers", users=[alice])
    groups.update(session, group=group, changes={"groupname": "r2", "name": "R", "users": [bob]})
    session.commit()
    assert (group.groupname, group.name) == ("r2", "R")
    assert _member_names(session, group) == ["bob"]
    groups.update(session, group=group, changes={"name": None})
    assert group.name == "r2"


def test_membership_changes_are_idempotent(session) -> None:
    alice = make_user(session, "alice", "user")
    group = groups.create(session, groupname="readers")
    groups.add_member(session, group=group, user=alice)
    groups.add_member(session, group=group, user=alice)
    session.commit()
    assert groups.is_member(session, group=group, user=alice)
    assert session.scalar(select(func.count()).select_from(group_membership)) == 1
    groups.remove_member(session, group=group, user=alice)
    groups.remove_member(session, group=group, user=alice)
    session.commit()
    assert not groups.is_member(session, group=group, user=alice)


def test_readable_only_to_members_without_group_read_all(session) -> None:
    alice = make_user(session, "alice", "user")
    bob = make_user(session, "bob", "user")
    boss = make_user(session, "boss", "superuser")
    groups.create(session, groupname="readers", users=[alice])
    session.commit()
    assert (
        groups.readable_or_raise(session, reference="readers", actor=alice).groupname == "readers"
    )
    assert groups.readable_or_raise(session, reference="readers", actor=boss).groupname == "readers"
    with pytest.raises(Forbidden):
        groups.readable_or_raise(session, reference="readers", actor=bob)
    with pytest.raises(NotFound):
        groups.readable_or_raise(session, reference="nope", actor=boss)


def test_resolve_users_names_the_field(session) -> None:
    alice = make_user(session, "alice", "user")
    assert groups.resolve_users(session, names=["alice", alice.id, "alice"]) == [alice]
    with pytest.raises(NotFound) as error:
        groups.resolve_users(session, names=["alice", "ghost"], field="members")
    assert "members" in error.value.errors
    with pytest.raises(InvalidInput):
        groups.resolve_users(session, names="alice")


def test_delete_removes_memberships_but_not_users(session) -> None:
    alice = make_user(session, "alice", "user")
    group = groups.create(session, groupname="readers", users=[alice])
    session.commit()
    groups.delete(session, group=group)
    session.commit()
    assert session.scalar(select(func.count()).select_from(Group)) == 0
    assert session.scalar(select(func.count()).select_from(group_membership)) == 0
    assert session.get(User, alice.id) is not None


def test_member_page(session) -> None:
    members = [make_user(session, f"u{i}", "user", commit=False) for i in range(3)]
    group = groups.create(session, groupname="readers", users=members)
    session.commit()
    page = groups.list_member_page(session, group=group, offset=1, limit=5)
    assert page.total == 3
    assert page.items == sorted(u.id for u in members)[1:]
