"""Accounts: creating and changing users, their roles and their credentials."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from flask_security.utils import hash_password
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Role, User, utcnow
from .errors import Conflict, InvalidInput, NotFound


def get(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_by_reference(session: Session, *, reference: str | int) -> User | None:
    """Find a user by id, username or e-mail (the contract accepts any)."""
    if isinstance(reference, int) or (isinstance(reference, str) and reference.isdigit()):
        user = session.get(User, int(reference))
        if user is not None:
            return user
    reference = str(reference)
    return session.scalars(
        select(User).where(
            (User.username == reference) | (func.lower(User.email) == reference.lower())
        )
    ).first()


def get_or_raise(session: Session, *, reference: str | int, field: str = "user") -> User:
    user = get_by_reference(session, reference=reference)
    if user is None:
        raise NotFound(f"User {reference!r} does not exist", field=field)
    return user


def validate_weight(weight: float) -> float:
    if weight < 0:
        raise InvalidInput("assignment_weight must be zero or more", field="assignment_weight")
    return float(weight)


def create(
    session: Session,
    *,
    username: str,
    password: str | None,
    email: str,
    name: str | None = None,
    active: bool = True,
    assignment_weight: float = 1.0,
    roles: Iterable[str] = (),
    confirmed: bool = True,
) -> User:
    """Create a user; usernames and e-mails are unique (case-insensitive for e-mail)."""
    if not username:
        raise InvalidInput("username is required", field="username")
    if not email:
        raise InvalidInput("email is required", field="email")
    taken = session.scalars(
        select(User).where((User.username == username) | (func.lower(User.email) == email.lower()))
    ).first()
    if taken is not None:
        field = "username" if taken.username == username else "email"
        raise Conflict(f"A user with this {field} already exists", field=field)
    user = User(
        username=username,
        name=name or username,
        email=email,
        password=hash_password(password) if password else None,
        active=active,
        assignment_weight=validate_weight(assignment_weight),
        fs_uniquifier=uuid.uuid4().hex,
        fs_token_uniquifier=uuid.uuid4().hex,
        confirmed_at=utcnow() if confirmed else None,
        create_time=utcnow(),
    )
    for role_name in roles:
        role = session.scalars(select(Role).where(Role.name == role_name)).first()
        if role is None:
            raise NotFound(f"Role {role_name!r} does not exist", field="roles")
        user.roles.append(role)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Store a new password hash; cached credentials stop matching the stored hash at once."""
    user.password = hash_password(password)
    # Changing the uniquifiers logs out sessions and revokes tokens issued before the change.
    user.fs_uniquifier = uuid.uuid4().hex
    user.fs_token_uniquifier = uuid.uuid4().hex


def list_ids(session: Session, *, offset: int = 0, limit: int | None = None) -> list[int]:
    query = select(User.id).order_by(User.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
