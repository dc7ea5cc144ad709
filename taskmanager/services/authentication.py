"""Who is calling: basic-auth credentials checked cheaply on every request.

The password hash is deliberately slow (argon2). Clients send basic auth on every call, so a
verified credential is remembered for a short time under an HMAC keyed with the secret key, in a
small in-process cache. A hit is only trusted while the user's stored hash and active flag are
unchanged, so a password change or deactivation takes effect at once in every process.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

from cachetools import TTLCache
from flask_security.utils import verify_and_update_password
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session, joinedload

from ..models import User
from . import throttling


class CredentialCache:
    """Bounded, expiring map of HMAC(identity, password) -> (user id, password hash)."""

    def __init__(self, secret: str, ttl_seconds: float, max_entries: int = 4096) -> None:
        self._key = hashlib.sha256(("credential-cache:" + secret).encode()).digest()
        self._entries: TTLCache[bytes, tuple[int, str]] | None = (
            TTLCache(max_entries, ttl_seconds, timer=time.monotonic) if ttl_seconds > 0 else None
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
    """Return the active user these credentials belong to, or None; Throttled after failures."""
    if not identity or password is None:
        return None
    hit = cache.get(identity, password)
    if hit is not None:
        user = session.execute(_USER_WITH_ROLES, {"user_id": hit[0]}).unique().scalar()
        if user is not None and user.active and user.password == hit[1]:
            return user
    keys = throttling.login_keys(identity=identity, address=address)
    throttling.check(session, keys=keys, max_failures=max_failures, window=window)
    user = find_by_identity(session, identity)
    if (
        user is None
        or not user.active
        or not user.password
        or not verify_and_update_password(password, user)
    ):
        throttling.record_failure(session, keys=keys, window=window)
        return None
    # verify_and_update_password may have rehashed an old-scheme password.
    if session.is_modified(user):
        session.commit()
    cache.put(identity, password, user.id, user.password)
    return user
