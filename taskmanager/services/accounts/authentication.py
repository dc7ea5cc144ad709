"""Who is calling: basic-auth credentials checked cheaply on every request.

The password hash is deliberately slow (argon2). Clients send basic auth on every call, so a
verified credential is remembered under an HMAC keyed with the secret key, in a small
in-process cache, until it has gone unused for a while. A hit is only trusted while the user's
stored hash is unchanged and the account may still sign in, so a password change or deactivation
takes effect at once in every process.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache
from flask import current_app
from flask_security.utils import hash_password, verify_and_update_password
from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, joinedload

from ...models import User
from . import throttling


class CredentialCache:
    """Bounded, expiring map of HMAC(identity, password) -> (user id, password hash)."""

    def __init__(
        self,
        secret: str,
        ttl_seconds: float,
        max_entries: int = 4096,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key = hashlib.sha256(("credential-cache:" + secret).encode()).digest()
        self._entries: TTLCache[bytes, tuple[int, str]] | None = (
            TTLCache(max_entries, ttl_seconds, timer=timer) if ttl_seconds > 0 else None
        )
        self._mutex = threading.Lock()

    def _digest(self, identity: str, password: str) -> bytes:
        message = identity.encode() + b"\x00" + password.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def get(self, identity: str, password: str) -> tuple[int, str] | None:
        if self._entries is None:
            return None
        digest = self._digest(identity, password)
        with self._mutex:
            return self._entries.get(digest)

    def put(self, identity: str, password: str, user_id: int, password_hash: str) -> None:
        if self._entries is None:
            return
        digest = self._digest(identity, password)
        with self._mutex:
            self._entries[digest] = (user_id, password_hash)

    def clear(self) -> None:
        if self._entries is None:
            return
        with self._mutex:
            self._entries.clear()


# The roles come in the same query: every request needs them for its permission check.
# Built once: building the statement per request cost more CPU than running it.
_USER_WITH_ROLES = (
    select(User).options(joinedload(User.roles)).where(User.id == bindparam("user_id"))
)


def find_by_identity(session: Session, identity: str) -> User | None:
    """Username (case-sensitive) or e-mail (case-insensitive), as users log in."""
    return session.scalars(
        select(User)
        .where(or_(User.username == identity, func.lower(User.email) == identity.lower()))
        .order_by(User.username != identity)
    ).first()


def confirmation_required() -> bool:
    """Flask-Security's rule: with SECURITY_CONFIRMABLE (and without
    SECURITY_LOGIN_WITHOUT_CONFIRMATION) an account signs in once its e-mail is confirmed."""
    config = current_app.config
    return bool(
        config.get("SECURITY_CONFIRMABLE") and not config.get("SECURITY_LOGIN_WITHOUT_CONFIRMATION")
    )


def may_sign_in(user: User) -> bool:
    """Whether the account may sign in at all: the web login's rule, for every way in."""
    return bool(user.active) and (user.confirmed_at is not None or not confirmation_required())


def may_sign_in_condition() -> ColumnElement[bool]:
    """may_sign_in as SQL: who assignment may choose."""
    if confirmation_required():
        return and_(User.active.is_(True), User.confirmed_at.is_not(None))
    return User.active.is_(True)


def authenticate_basic(
    session: Session,
    *,
    identity: str,
    password: str,
    cache: CredentialCache,
    address: str | None = None,
    max_failures: int = 10,
    window: float = 300.0,
) -> User | None:
    """Return the user these credentials belong to if it may sign in, or None; Throttled when
    too many wrong passwords were tried for the account or from the address."""
    if not identity or password is None:
        return None
    hit = cache.get(identity, password)
    if hit is not None:
        user = session.execute(_USER_WITH_ROLES, {"user_id": hit[0]}).unique().scalar()
        if user is not None and user.password == hit[1] and may_sign_in(user):
            # Remembered from its last use: a busy client never pays for the slow hash again
            # (with a fixed lifetime, each of its connections did, once a minute per worker).
            cache.put(identity, password, user.id, user.password)
            return user
    keys = throttling.login_keys(identity=identity, address=address)
    throttling.reserve(session, keys=keys, max_failures=max_failures, window=window)
    password_matches = False
    try:
        user = find_by_identity(session, identity)
        if user is None or not user.password:
            # As long as a check against a stored hash: the answer's time does not tell
            # whether the account exists.
            hash_password(password)
        else:
            password_matches = verify_and_update_password(password, user)
            # verify_and_update_password may have rehashed an old-scheme password.
            if password_matches and session.is_modified(user):
                session.commit()
    finally:
        # Only a wrong password counts: a right one for an account that may not sign in
        # (deactivated, unconfirmed) must not lock out others at the same address.
        throttling.settle(session, keys=keys, failed=not password_matches)
    if user is None or not password_matches or not user.password or not may_sign_in(user):
        return None
    cache.put(identity, password, user.id, user.password)
    return user
