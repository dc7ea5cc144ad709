"""Meta variables: `$LABEL` in task content and callback URLs stands for the current value.

A value change writes the meta row and one history row; tasks are rendered when read, so no
task row is ever touched here.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ...models import Meta, MetaHistory, utcnow
from ..kit import paging, references, validation
from ..kit.errors import InvalidInput

# What string.Template recognises after `$`: a label outside this pattern could never be used.
LABEL_PATTERN = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")


def get_by_reference(session: Session, *, reference: str | int) -> Meta | None:
    """A meta variable by id or label."""
    return references.find(session, Meta, reference=reference, name_column=Meta.label)


def get_or_raise(session: Session, *, reference: str | int, field: str = "meta") -> Meta:
    return references.found(
        get_by_reference(session, reference=reference),
        what="Meta variable",
        reference=reference,
        field=field,
    )


def list_page(
    session: Session, *, offset: int | None = None, limit: int | None = None
) -> paging.Page[Meta]:
    """A page of meta variables with their histories (two queries), and their number."""
    query = select(Meta).options(selectinload(Meta.history)).order_by(Meta.id)
    return paging.page(session, query, offset=offset, limit=limit)


def value_text(value: Any, *, field: str = "value") -> str:
    """Values are text; numbers and booleans are accepted and stored as JSON writes them."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidInput(f"{field} must be a finite number or text", field=field)
        value = str(value)
    checked = validation.text(value, field=field, column=Meta.value, required=False)
    if checked is None:
        raise InvalidInput(f"{field} is required", field=field)
    return checked


def _record(session: Session, meta: Meta, value: str) -> None:
    session.add(MetaHistory(meta_id=meta.id, timestamp=utcnow(), value=value))


def create(session: Session, *, label: str, value: Any) -> Meta:
    """A new variable; its first value starts its history."""
    checked = validation.name(label, field="label", column=Meta.label)
    if not LABEL_PATTERN.fullmatch(checked):
        raise InvalidInput(
            "label must start with a letter or _ and hold only letters, digits and _ "
            "(it is used as $LABEL)",
            field="label",
        )
    meta = Meta(label=checked, value=value_text(value))
    session.add(meta)
    validation.flush_or_conflict(
        session, entity="meta variable", unique={"label": Meta.label == checked}
    )
    _record(session, meta, meta.value)
    session.flush()
    return meta


def update(session: Session, *, meta: Meta, value: Any) -> Meta:
    """Set a new value: one meta row and one history row are written (none when unchanged)."""
    new_value = value_text(value)
    if new_value != meta.value:
        meta.value = new_value
        _record(session, meta, new_value)
        session.flush()
        session.expire(meta, ["history"])
    return meta


# Built once: read by most task reads, where building it cost more than running it.
_CURRENT_VALUES = select(Meta.label, Meta.value)


def current_values(session: Session) -> dict[str, str]:
    """Every variable's value now, by label."""
    return {label: value for label, value in session.execute(_CURRENT_VALUES)}


def values_at(session: Session, *, timestamp: datetime) -> dict[str, str]:
    """Every variable's value as it was at the timestamp (variables made later are absent)."""
    latest = (
        select(MetaHistory.meta_id, func.max(MetaHistory.id).label("history_id"))
        .where(MetaHistory.timestamp <= timestamp)
        .group_by(MetaHistory.meta_id)
        .subquery()
    )
    query = (
        select(Meta.label, MetaHistory.value)
        .join(latest, latest.c.meta_id == Meta.id)
        .join(MetaHistory, MetaHistory.id == latest.c.history_id)
    )
    return {label: value for label, value in session.execute(query)}
