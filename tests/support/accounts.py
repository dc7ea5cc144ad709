"""Making accounts in tests without paying for a slow password hash each time."""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask_security.utils import hash_password
from sqlalchemy.orm import Session

from taskmanager.models import User, db
from taskmanager.services.accounts import users

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


def headers(username: str) -> dict[str, str]:
    """Basic-auth headers for a user made by make_user (or admin/admin)."""
    token = base64.b64encode(f"{username}:{'admin' if username == 'admin' else PASSWORD}".encode())
    return {"Authorization": f"Basic {token.decode()}"}


def assert_shape(body: Any, shape: dict[str, type | tuple[type, ...]]) -> None:
    """Every field of the shape is present with the given type (more fields may follow)."""
    assert isinstance(body, dict), body
    missing = sorted(set(shape) - set(body))
    assert not missing, f"missing fields {missing} in {body}"
    wrong = {
        key: type(body[key]).__name__
        for key, expected in shape.items()
        if not isinstance(body[key], expected)
        or (expected in (int, float) and isinstance(body[key], bool))
    }
    assert not wrong, f"fields of the wrong type {wrong} in {body}"


@contextmanager
def in_app(app: Any) -> Iterator[Session]:
    """A database session in an app context that ends before the test's next request.

    API tests must not hold an app context while calling the test client: Flask would reuse
    it for the request, and with it `g`, where the previous request's caller is remembered.
    """
    with app.app_context():
        yield db.session
        db.session.commit()
