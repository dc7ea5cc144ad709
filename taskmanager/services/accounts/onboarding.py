"""Roles and the admin account every server starts with; safe to run again and concurrently."""

from __future__ import annotations

import functools
import logging

from flask_security.utils import verify_password
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...config import Settings
from ...models import Role, User, utcnow
from . import users
from .permissions import DEFAULT_ROLES

log = logging.getLogger(__name__)


def ensure_roles(session: Session) -> list[Role]:
    """Create the default roles, or restore their permission sets to the contract's."""
    roles = []
    for name, (description, permissions) in DEFAULT_ROLES.items():
        role = session.scalars(select(Role).where(Role.name == name)).first()
        if role is None:
            role = Role(name=name, description=description, permissions=list(permissions))
            session.add(role)
        elif set(role.permissions or ()) != set(permissions):
            role.permissions = list(permissions)
        roles.append(role)
    session.flush()
    return roles


def ensure_admin(session: Session, settings: Settings) -> User | None:
    """Create the TASKMAN_ADMIN_* account (or reset it with TASKMAN_ADMIN_FORCE_UPDATE)."""
    if not settings.admin_username:
        return None
    admin_role = session.scalars(select(Role).where(Role.name == "admin")).one()
    user = session.scalars(select(User).where(User.username == settings.admin_username)).first()
    if user is None:
        if not settings.admin_password:
            log.warning(
                "TASKMAN_ADMIN_USERNAME is set without TASKMAN_ADMIN_PASSWORD; no admin made"
            )
            return None
        user = users.create(
            session,
            username=settings.admin_username,
            password=settings.admin_password,
            email=settings.admin_email or f"{settings.admin_username}@localhost",
            name="Administrator Account",
            roles=["admin"],
        )
        log.info("Created admin account %r", user.username)
    elif settings.admin_force_update:
        if settings.admin_password:
            users.set_password(user, settings.admin_password)
        if settings.admin_email:
            user.email = settings.admin_email
        user.active = True
        user.confirmed_at = user.confirmed_at or utcnow()
        log.info("Reset admin account %r", user.username)
    if admin_role not in user.roles:
        user.roles.append(admin_role)
    session.flush()
    return user


def has_active_admin(session: Session) -> bool:
    """Whether any active account holds the admin role."""
    found = session.scalars(
        select(User.id).where(User.active, User.roles.any(Role.name == "admin")).limit(1)
    ).first()
    return found is not None


def accounts_with_default_password(session: Session, settings: Settings) -> list[str]:
    """Active admins whose stored hash still matches the password "admin" (checked, not assumed).

    Cheap enough for every page an admin sees: the slow check runs once per stored hash.
    """
    names = {"admin", settings.admin_username or "admin"}
    found = []
    for user in session.scalars(select(User).where(User.username.in_(names), User.active)):
        is_admin = any(role.name == "admin" for role in user.roles)
        if is_admin and user.password and _is_default_password(user.password):
            found.append(user.username)
    return sorted(found)


@functools.lru_cache(maxsize=64)
def _is_default_password(password_hash: str) -> bool:
    # A changed password is a new hash (salted), so an answer never goes stale.
    return bool(verify_password("admin", password_hash))


def run(session: Session, settings: Settings) -> User | None:
    """Onboarding as one transaction; a concurrent run elsewhere simply wins the race."""
    for attempt in range(3):
        try:
            ensure_roles(session)
            admin = ensure_admin(session, settings)
            session.commit()
            return admin
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
    return None
