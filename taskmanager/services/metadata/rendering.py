"""Rendering `$NAME` / `${NAME}` in task content and callback URLs with meta values.

Tasks keep their raw text; values are substituted when a task is read, so changing a meta value
writes one row whatever the number of tasks. The values come from the meta service: now (read
once per transaction) or as they were at a time.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from sqlalchemy import event
from sqlalchemy.orm import Session

from . import meta

_CACHE_KEY = "taskman_meta_values"


def current_values(session: Session) -> Mapping[str, str]:
    """Every meta label and its current value: one query, remembered until the session commits."""
    cached = session.info.get(_CACHE_KEY)
    if cached is None:
        cached = meta.current_values(session)
        session.info[_CACHE_KEY] = cached
    return cached  # type: ignore[no-any-return]


def values_for(session: Session, *texts: str | None) -> Mapping[str, str]:
    """The current values when one of the texts names a variable; else none (and no query)."""
    if any(text and "$" in text for text in texts):
        return current_values(session)
    return {}


def forget(session: Session) -> None:
    """Drop the remembered values (done automatically when the session commits or rolls back)."""
    session.info.pop(_CACHE_KEY, None)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_on_transaction_end(session: Session, *_args: object) -> None:
    forget(session)


def render(text: str, values: Mapping[str, str]) -> str:
    """Substitute known variables; unknown or malformed ones stay as written."""
    if "$" not in text:
        return text
    return string.Template(text).safe_substitute(values)


def render_optional(text: str | None, values: Mapping[str, str]) -> str | None:
    return None if text is None else render(text, values)
