import math
import threading
import time

import pytest
from flask_security.utils import verify_password
from sqlalchemy import select

from taskmanager.models import Role, User
from taskmanager.services.accounts import users
from taskmanager.services.kit.errors import Conflict, Forbidden, InvalidInput, NotFound

from ...support.accounts import make_user


def _role(session, name: str) -> Role:
    return session.scalars(select(Role).where(Role.name == name)).one()


def test_create_validates_fields(session) -> None:
    with pytest.raises(InvalidInput) as error:
        users.create(session, username="x" * 65, password="p", email="x@example.org")
    assert "username" in error.value.errors
    with pytest.raises(InvalidInput) as error:
        users.create(session, username="ok", password="p", email="not-an-address")
    assert "email" in error.value.errors
    with pytest.raises(InvalidInput) as error:
        users.create(session, username="ok", password="p", email="a@b", assignment_weight=-1)
    assert "assignment_weight" in error.value.errors
    with pytest.raises(InvalidInput):
        users.create(session, username="ok", password="p", email="a@b", assignment_weight=math.nan)
    with pytest.raises(InvalidInput):
        users.create(session, username="ok\x00", password="p", email="a@b")
    with pytest.raises(NotFound) as error:
        users.create(session, username="ok", password="p", email="a@b", roles=["nosuchrole"])
    assert "roles" in error.value.errors


def test_create_refuses_taken_username_and_email_case_insensitively(session) -> None:
    make_user(session, "alice", "user", email="Alice@Example.org")
    with pytest.raises(Conflict) as error:
        users.create(session, username="alice", password="p", email="other@example.org")
    assert "username" in error.value.errors
    with pytest.raises(Conflict) as error:
        users.create(session, username="alice2", password="p", email="alice@example.ORG")
    assert "email" in error.value.errors
    # Nothing half-made stays behind.
    assert session.scalars(select(User).where(User.username == "alice2")).first() is None


def test_references_by_id_username_email_and_url(session) -> None:
    alice = make_user(session, "alice", "user")
    for reference in (
        alice.id,
        str(alice.id),
        "alice",
        "alice@EXAMPLE.org",
        f"/api/v1/users/{alice.id}",
    ):
        assert users.get_by_reference(session, reference=reference) is alice
    assert users.get_by_reference(session, reference="99999999999999999999") is None
    with pytest.raises(NotFound):
        users.get_or_raise(session, reference="nobody")


def test_update_gates_each_field_and_applies_nothing_when_refused(session) -> None:
    boss = make_user(session, "boss", "superuser")
    alice = make_user(session, "alice", "user")
    with pytest.raises(Forbidden) as error:
        users.update(
            session, user=alice, changes={"assignment_weight": 3.0, "name": "A"}, actor=boss
        )
    assert list(error.value.errors) == ["name"]
    session.refresh(alice)
    assert alice.assignment_weight == 1.0 and alice.name == "alice"
    users.update(session, user=alice, changes={"assignment_weight": 3.0}, actor=boss)
    assert alice.assignment_weight == 3.0
    with pytest.raises(Forbidden) as error:
        users.update(session, user=alice, changes={"password": "x"}, actor=alice)
    assert "password" in error.value.errors


def test_update_hashes_the_password(session) -> None:
    admin = session.scalars(select(User).where(User.username == "admin")).one()
    alice = make_user(session, "alice", "user")
    old_token = alice.fs_token_uniquifier
    users.update(session, user=alice, changes={"password": "new-password"}, actor=admin)
    assert alice.password != "new-password"
    assert verify_password("new-password", alice.password)
    assert alice.fs_token_uniquifier != old_token


def test_update_refuses_taken_names(session) -> None:
    make_user(session, "alice", "user")
    bob = make_user(session, "bob", "user")
    with pytest.raises(Conflict) as error:
        users.update(session, user=bob, changes={"username": "alice"})
    assert "username" in error.value.errors
    with pytest.raises(Conflict) as error:
        users.update(session, user=bob, changes={"email": "ALICE@example.org"})
    assert "email" in error.value.errors
    with pytest.raises(InvalidInput):
        users.update(session, user=bob, changes={"active": "yes"})
    with pytest.raises(InvalidInput):
        users.update(session, user=bob, changes={"nickname": "b"})


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(session) -> None:
    admin = session.scalars(select(User).where(User.username == "admin")).one()
    admin_role = _role(session, "admin")
    with pytest.raises(Conflict):
        users.deactivate(session, user=admin)
    with pytest.raises(Conflict):
        users.set_role(session, user=admin, role=admin_role, granted=False)
    with pytest.raises(Conflict):
        users.update(session, user=admin, changes={"active": False})
    with pytest.raises(Conflict):
        users.replace_roles(session, user=admin, new_roles=[_role(session, "user")])
    session.rollback()
    # An inactive second admin does not count.
    make_user(session, "sleeper", "admin", active=False)
    with pytest.raises(Conflict):
        users.deactivate(session, user=admin)
    session.rollback()
    make_user(session, "second", "admin")
    admin = session.scalars(select(User).where(User.username == "admin")).one()
    assert users.set_role(session, user=admin, role=_role(session, "admin"), granted=False) is False
    session.commit()
    second = session.scalars(select(User).where(User.username == "second")).one()
    with pytest.raises(Conflict):
        users.deactivate(session, user=second)


def test_set_role_is_idempotent(session) -> None:
    alice = make_user(session, "alice", "user")
    superuser = _role(session, "superuser")
    assert users.set_role(session, user=alice, role=superuser, granted=True) is True
    assert users.set_role(session, user=alice, role=superuser, granted=True) is True
    session.commit()
    assert sorted(r.name for r in alice.roles) == ["superuser", "user"]
    assert users.set_role(session, user=alice, role=superuser, granted=False) is False
    assert users.set_role(session, user=alice, role=superuser, granted=False) is False


def test_deactivate_keeps_the_user(session) -> None:
    alice = make_user(session, "alice", "user")
    users.deactivate(session, user=alice)
    session.commit()
    assert session.get(User, alice.id).active is False


def test_readable_or_raise(session) -> None:
    alice = make_user(session, "alice", "user")
    bob = make_user(session, "bob", "user")
    boss = make_user(session, "boss", "superuser")
    assert users.readable_or_raise(session, reference="alice", actor=alice) is alice
    assert users.readable_or_raise(session, reference="alice", actor=boss) is alice
    with pytest.raises(Forbidden):
        users.readable_or_raise(session, reference="alice", actor=bob)
    with pytest.raises(NotFound):
        users.readable_or_raise(session, reference="nobody", actor=boss)


def test_list_page_counts_and_orders_by_id(session) -> None:
    made = [make_user(session, f"u{i}", "user", commit=False) for i in range(5)]
    session.commit()
    page = users.list_page(session, offset=1, limit=2)
    admin_id = session.scalars(select(User.id).where(User.username == "admin")).one()
    everyone = sorted([u.id for u in made] + [admin_id])
    assert page.total == 6
    assert page.items == everyone[1:3]
    assert (page.offset, page.limit) == (1, 2)


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app) -> None:
    """The admin role row is locked before counting, so the second demotion sees the first."""
    with app.app_context():
        from sqlalchemy.orm import Session as PlainSession

        from taskmanager.models import db

        make_user(db.session, "second", "admin")
        first = PlainSession(db.engine)
        admin_role = first.scalars(select(Role).where(Role.name == "admin")).one()
        second_user = first.scalars(select(User).where(User.username == "second")).one()
        users.set_role(first, user=second_user, role=admin_role, granted=False)
        outcome: list[BaseException | None] = []

        def demote_admin() -> None:
            with app.app_context():
                other = PlainSession(db.engine)
                try:
                    role = other.scalars(select(Role).where(Role.name == "admin")).one()
                    admin = other.scalars(select(User).where(User.username == "admin")).one()
                    users.set_role(other, user=admin, role=role, granted=False)
                    other.commit()
                    outcome.append(None)
                except BaseException as error:  # checked in the main thread
                    outcome.append(error)
                finally:
                    other.rollback()
                    other.close()

        thread = threading.Thread(target=demote_admin)
        thread.start()
        time.sleep(0.3)  # let the second demotion reach the lock the first one holds
        first.commit()
        first.close()
        thread.join(timeout=60)
        assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
        db.session.expire_all()
        admins = db.session.scalars(
            select(User.username).join(User.roles).where(Role.name == "admin", User.active)
        ).all()
        assert admins == ["admin"]
