import logging

from sqlalchemy import select

from taskmanager.models import Role, User
from taskmanager.services.accounts import onboarding
from taskmanager.services.accounts.authentication import CredentialCache, authenticate_basic
from taskmanager.services.accounts.permissions import DEFAULT_ROLES


def test_roles_have_exactly_the_contract_permissions(session) -> None:
    roles = {role.name: set(role.permissions or ()) for role in session.scalars(select(Role))}
    assert roles == {name: set(perms) for name, (_, perms) in DEFAULT_ROLES.items()}
    assert "roles_manage" in roles["admin"] and "task_update_lock_all" in roles["superuser"]
    assert roles["user"] == {"task_read", "task_update_status", "user_read", "group_read"}


def test_onboarding_is_idempotent_and_repairs_roles(session, settings) -> None:
    role = session.scalars(select(Role).where(Role.name == "user")).one()
    role.permissions = ["task_read"]
    session.commit()
    onboarding.run(session, settings)
    onboarding.run(session, settings)
    assert session.query(Role).count() == 3
    assert session.query(User).filter_by(username="admin").count() == 1
    role = session.scalars(select(Role).where(Role.name == "user")).one()
    assert set(role.permissions) == {"task_read", "task_update_status", "user_read", "group_read"}


def test_admin_account_and_force_update(session, settings) -> None:
    admin = session.scalars(select(User).where(User.username == "admin")).one()
    assert [r.name for r in admin.roles] == ["admin"]
    cache = CredentialCache("k", 0)
    assert authenticate_basic(session, identity="admin", password="admin", cache=cache) is not None

    changed = settings.model_copy(
        update={"admin_password": "changed", "admin_email": "boss@example.org"}
    )
    onboarding.run(session, changed)  # without force update nothing changes
    assert authenticate_basic(session, identity="admin", password="admin", cache=cache) is not None

    admin.active = False
    session.commit()
    onboarding.run(session, changed.model_copy(update={"admin_force_update": True}))
    admin = session.scalars(select(User).where(User.username == "admin")).one()
    assert admin.active and admin.email == "boss@example.org"
    assert (
        authenticate_basic(session, identity="admin", password="changed", cache=cache) is not None
    )
    assert authenticate_basic(session, identity="admin", password="admin", cache=cache) is None


def test_default_admin_password_is_detected_from_the_stored_hash(app, session, settings) -> None:
    from taskmanager.services.accounts import onboarding as onboarding_service
    from taskmanager.services.accounts import users as user_service

    assert onboarding_service.accounts_with_default_password(session, settings) == ["admin"]
    admin = user_service.get_or_raise(session, reference="admin")
    user_service.set_password(admin, "a-real-password")
    session.commit()
    assert onboarding_service.accounts_with_default_password(session, settings) == []


def test_start_warns_loudly_while_the_default_password_is_unchanged(app, caplog) -> None:
    """Every start checks the stored hash: a WARNING while admin/admin works, silence after."""
    from taskmanager import prepare_database
    from taskmanager.models import db
    from taskmanager.services.accounts import users

    def warnings() -> list[logging.LogRecord]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="taskmanager"):
            prepare_database(app)
        return [r for r in caplog.records if "default admin/admin" in r.getMessage()]

    warned = warnings()
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert "SECURITY WARNING" in warned[0].getMessage()
    with app.app_context():
        users.set_password(users.get_or_raise(db.session, reference="admin"), "a-real-password")
        db.session.commit()
    assert warnings() == []
