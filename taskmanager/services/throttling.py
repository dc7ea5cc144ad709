"""Login throttling: failed attempts counted per account and per client address in the database.

Counters live in `login_failures` so that every server process sees the same numbers. A counter
is a fixed window: the first failure after the window ran out starts a new one. Successful
logins are not counted, and a refused (throttled) attempt does not verify the password.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import LoginFailure, utcnow
from .errors import Throttled

KEY_LENGTH = 255


def login_keys(*, identity: str, address: str | None) -> list[tuple[str, str]]:
    """The counters one attempt touches: the account tried and the client address."""
    keys = [("account", identity.strip().lower()[:KEY_LENGTH])]
    if address:
        keys.append(("address", address[:KEY_LENGTH]))
    return keys


def check(
    session: Session, *, keys: Iterable[tuple[str, str]], max_failures: int, window: float
) -> None:
    """Raise Throttled when any counter reached max_failures within the current window."""
    now = utcnow()
    cutoff = now - timedelta(seconds=window)
    wait = 0.0
    for kind, key in keys:
        row = session.execute(
            select(LoginFailure.count, LoginFailure.window_start).where(
                LoginFailure.kind == kind, LoginFailure.key == key
            )
        ).first()
        if row is None:
            continue
        count, window_start = row  # (a Row's `.count` reads as tuple.count to type checkers)
        if count >= max_failures and window_start > cutoff:
            wait = max(wait, (window_start - cutoff).total_seconds())
    if wait > 0:
        raise Throttled(
            "Too many failed logins; try again later", retry_after=max(1, math.ceil(wait))
        )


def record_failure(session: Session, *, keys: Iterable[tuple[str, str]], window: float) -> None:
    """Count one failed attempt on each counter (atomic UPDATE, INSERT for a new counter)."""
    now = utcnow()
    cutoff = now - timedelta(seconds=window)
    expired = LoginFailure.window_start <= cutoff
    for kind, key in keys:
        statement = (
            update(LoginFailure)
            .where(LoginFailure.kind == kind, LoginFailure.key == key)
            # In this order: MariaDB applies SET clauses left to right.
            .ordered_values(
                (LoginFailure.count, case((expired, 1), else_=LoginFailure.count + 1)),
                (LoginFailure.window_start, case((expired, now), else_=LoginFailure.window_start)),
            )
            .execution_options(synchronize_session=False)
        )
        if session.execute(statement).rowcount:  # type: ignore[attr-defined]
            continue
        try:
            with session.begin_nested():
                session.add(LoginFailure(kind=kind, key=key, window_start=now, count=1))
        except IntegrityError:  # another process made the counter meanwhile
            session.execute(statement)
    session.commit()


def failures(session: Session, *, kind: str, key: str) -> int:
    """The current count of one counter (0 when there is none)."""
    count = session.scalar(
        select(LoginFailure.count).where(LoginFailure.kind == kind, LoginFailure.key == key)
    )
    return int(count or 0)
