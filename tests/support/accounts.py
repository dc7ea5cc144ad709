"""Making accounts in tests without paying for a slow password hash each time."""

from __future__ import annotations

import functools
from typing import Any

from flask_security.utils import hash_password
from sqlalchemy.orm import Session

from taskmanager.models import User
from taskmanager.services import users

PASSWORD = "secret-pass"


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def make_user(
    session: Session, username: str, *roles: str, commit: bool = True, **fields: Any
) -> User:
    """A confirmed active user with the given roles and the password PASSWORD."""
    user = users.create(
        session,
        username=username,
        password=None,
        email=fields.pop("email", f"{username}@example.org"),
        roles=roles,
        **fields,
    )
    user.password = _password_hash()
    if commit:
        session.commit()
    return user
