"""Rendering `$NAME` / `${NAME}` in task content and callback URLs with meta values.

Tasks keep their raw text; values are substituted when a task is read, so changing a meta value
writes one row whatever the number of tasks.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import event, exists, func, select
from sqlalchemy.orm import Session, aliased

from ..models import Meta, MetaHistory

_CACHE_KEY = "taskman_meta_values"


def current_values(session: Session) -> Mapping[str, str]:
    """Every meta label and its current value: one query, remembered until the session commits."""
    cached = session.info.get(_CACHE_KEY)
    if cached is None:
        cached = dict(session.execute(select(Meta.label, Meta.value)).all())
        session.info[_CACHE_KEY] = cached
    return cached  # type: ignore[no-any-return]


def forget(session: Session) -> None:
    """Drop the remembered values (done automatically when the session commits or rolls back)."""
    session.info.pop(_CACHE_KEY, None)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_on_transaction_end(session: Session, *_args: object) -> None:
    forget(session)


def values_at(session: Session, *, at: datetime) -> Mapping[str, str]:
    """Every meta label with the value it had at `at` (labels created later are absent)."""
    earlier = aliased(MetaHistory)
    latest = select(func.max(earlier.id)).where(earlier.timestamp <= at).group_by(earlier.meta_id)
    historical = select(Meta.label, MetaHistory.value).join(
        MetaHistory, MetaHistory.meta_id == Meta.id
    )
    values = dict(session.execute(historical.where(MetaHistory.id.in_(latest))).all())
    # A value that never changed may have no history row; it has been valid all along.
    without_history = select(Meta.label, Meta.value).where(
        ~exists().where(MetaHistory.meta_id == Meta.id)
    )
    for label, value in session.execute(without_history):
        values.setdefault(label, value)
    return values


def render(text: str, values: Mapping[str, str]) -> str:
    """Substitute known variables; unknown or malformed ones stay as written."""
    if "$" not in text:
        return text
    return string.Template(text).safe_substitute(values)


def render_optional(text: str | None, values: Mapping[str, str]) -> str | None:
    return None if text is None else render(text, values)
