"""Login throttling: failed attempts counted per account and per client address in the database.

Counters live in `login_failures` so that every server process sees the same numbers. A counter
is a fixed window: the first attempt after the window ran out starts a new one.

An attempt that will check a password first *reserves* a place on each of its counters with one
atomic conditional UPDATE (failures + attempts in flight below the limit), and only then runs the
slow hash; afterwards it *settles*: a wrong password becomes a failure, anything else (a right
password, even for an account that may not sign in) gives the place back. So concurrent guesses
cannot pass the limit between a read and a write, and a refusal that is not a wrong password never
counts. While the places are taken only by attempts still in flight, a new attempt waits briefly
for them instead of being refused (many clients behind one address start at once).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import ColumnElement, case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...models import LoginFailure, utcnow
from ..kit.errors import Throttled

KEY_LENGTH = 255
# How long an attempt waits for places held by attempts in flight (each takes one slow hash):
# long enough for a lab's clients behind one address to sign in together after a restart
# (about 14 hashes a second on two cores), short of a client's usual 30 s timeout.
IN_FLIGHT_WAIT_SECONDS = 20.0
_POLL_SECONDS = 0.05

Keys = Sequence[tuple[str, str]]


def login_keys(*, identity: str, address: str | None) -> list[tuple[str, str]]:
    """The counters one attempt touches: the account tried and the client address."""
    keys = [("account", identity.strip().lower()[:KEY_LENGTH])]
    if address:
        keys.append(("address", address[:KEY_LENGTH]))
    return keys


def _where(kind: str, key: str) -> ColumnElement[bool]:
    return (LoginFailure.kind == kind) & (LoginFailure.key == key)


def _throttled(wait_seconds: float) -> Throttled:
    return Throttled(
        "Too many failed logins; try again later", retry_after=max(1, math.ceil(wait_seconds))
    )


def _ensure_counters(session: Session, keys: Keys) -> None:
    existing = {
        (row.kind, row.key)
        for row in session.execute(select(LoginFailure.kind, LoginFailure.key).where(_any_of(keys)))
    }
    for kind, key in keys:
        if (kind, key) in existing:
            continue
        try:
            with session.begin_nested():
                session.add(
                    LoginFailure(kind=kind, key=key, window_start=utcnow(), count=0, pending=0)
                )
        except IntegrityError:  # another process made the counter meanwhile
            pass


def _any_of(keys: Keys) -> ColumnElement[bool]:
    condition = _where(*keys[0])
    for kind, key in keys[1:]:
        condition = condition | _where(kind, key)
    return condition


def reserve(session: Session, *, keys: Keys, max_failures: int, window: float) -> None:
    """Take a place for one password check on every counter, or raise Throttled.

    Commits. Raises at once when failures alone reached the limit; waits (bounded) while
    attempts still in flight fill the remaining places.
    """
    if not keys:
        return
    deadline = time.monotonic() + IN_FLIGHT_WAIT_SECONDS
    while True:
        now = utcnow()
        expired = LoginFailure.window_start <= now - timedelta(seconds=window)
        _ensure_counters(session, keys)
        taken: list[tuple[str, str]] = []
        blocked_by_failures: float | None = None
        for kind, key in keys:
            result = session.execute(
                update(LoginFailure)
                .where(
                    _where(kind, key),
                    expired | (LoginFailure.count + LoginFailure.pending < max_failures),
                )
                # In this order: MariaDB applies SET clauses left to right, and the CASEs
                # must see the window as it was.
                .ordered_values(
                    (LoginFailure.count, case((expired, 0), else_=LoginFailure.count)),
                    (
                        LoginFailure.pending,
                        case((expired, 1), else_=LoginFailure.pending + 1),
                    ),
                    (
                        LoginFailure.window_start,
                        case((expired, now), else_=LoginFailure.window_start),
                    ),
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                taken.append((kind, key))
                continue
            row = session.execute(
                select(LoginFailure.count, LoginFailure.window_start).where(_where(kind, key))
            ).one()
            if row[0] >= max_failures:
                remaining = (row[1] + timedelta(seconds=window) - now).total_seconds()
                blocked_by_failures = max(blocked_by_failures or 0.0, remaining)
            break
        if len(taken) == len(keys):
            session.commit()
            return
        # Give back what this round took: the attempt does not go ahead now.
        session.rollback()
        if blocked_by_failures is not None:
            raise _throttled(blocked_by_failures)
        if time.monotonic() >= deadline:  # still busy: worth trying again soon
            raise _throttled(_POLL_SECONDS)
        time.sleep(_POLL_SECONDS)


def settle(session: Session, *, keys: Keys, failed: bool) -> None:
    """End a reserved attempt: a failure counts on every counter, anything else is forgiven."""
    for kind, key in keys:
        released = case((LoginFailure.pending > 0, LoginFailure.pending - 1), else_=0)
        values: list[tuple[object, object]] = [(LoginFailure.pending, released)]
        if failed:
            values.insert(0, (LoginFailure.count, LoginFailure.count + 1))
        session.execute(
            update(LoginFailure)
            .where(_where(kind, key))
            .ordered_values(*values)  # type: ignore[arg-type]
            .execution_options(synchronize_session=False)
        )
    session.commit()


def failures(session: Session, *, kind: str, key: str) -> int:
    """The current count of one counter (0 when there is none)."""
    count = session.scalar(select(LoginFailure.count).where(_where(kind, key)))
    return int(count or 0)
