"""When a delivery is tried, for how long a claim holds, and what an attempt's outcome makes of
the row: delivered, pending again after a backoff, or failed (given up)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from ...config import Settings
from ...models import CallbackDelivery, DeliveryStatus

# A claim outlives the request it covers (connect and read timeouts each up to the timeout).
LEASE_MARGIN_SECONDS = 5.0
# A published id whose row is still pending this long after is published again (message lost).
REPUBLISH_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str | None
    # Trying again cannot help (the destination is not allowed): failed at once.
    final: bool = False


def lease(settings: Settings) -> timedelta:
    """How long a claim stays valid before another process may take the row over."""
    return timedelta(seconds=2 * settings.callback_timeout + LEASE_MARGIN_SECONDS)


def backoff_delay(settings: Settings, attempts: int) -> timedelta:
    """Wait before the next attempt after `attempts` failed ones: backoff * 2^(attempts-1)."""
    return timedelta(seconds=settings.callback_backoff * 2 ** max(attempts - 1, 0))


def claimable(now: datetime, settings: Settings) -> ColumnElement[bool]:
    """Rows a process may claim: due pending ones, and those whose claim lapsed with attempts
    left (their worker vanished)."""
    return or_(
        and_(
            CallbackDelivery.status == DeliveryStatus.PENDING,
            CallbackDelivery.next_attempt_at <= now,
        ),
        and_(
            CallbackDelivery.status == DeliveryStatus.DELIVERING,
            CallbackDelivery.claimed_until < now,
            CallbackDelivery.attempts < settings.callback_max_attempts,
        ),
    )


def after_attempt(
    outcome: Outcome, *, attempts: int, settings: Settings, now: datetime
) -> dict[str, Any]:
    """The row's new values after attempt number `attempts` ended with `outcome`."""
    values: dict[str, Any] = {
        "claimed_until": None,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.delivered:
        values.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
    elif outcome.final or attempts >= settings.callback_max_attempts:
        values.update(status=DeliveryStatus.FAILED)
    else:
        values.update(
            status=DeliveryStatus.PENDING, next_attempt_at=now + backoff_delay(settings, attempts)
        )
    return values
