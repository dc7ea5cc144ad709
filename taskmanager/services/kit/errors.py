"""Typed domain errors. `api.errors` turns them into JSON responses, `cli` into messages."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the domain rules refuse; carries the field(s) at fault and why."""

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors: dict[str, list[str]] = dict(errors or {})
        if field is not None:
            self.errors.setdefault(field, []).append(message)
        # Extra top-level keys some old routes answer with (e.g. the lock's holder).
        self.extra: dict[str, Any] = dict(extra or {})


class InvalidInput(DomainError):
    status_code = 400


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class KeyReused(DomainError):
    """An idempotency key sent again with another request: 422, as the IETF draft on the
    Idempotency-Key header answers it (a retry sends the same request)."""

    status_code = 422


class Unavailable(DomainError):
    """The database could not be reached, or gave up under load: answer 503 with Retry-After."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Throttled(DomainError):
    """Too many failed logins: answer 429 with Retry-After, without checking the password."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, field="authorization", extra={"retry_after": retry_after})
        self.retry_after = retry_after
