"""Checks every service applies to text before it reaches a column (so no 500 on bad input)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from .errors import Conflict, InvalidInput

# A TEXT column holds at most this many bytes on MariaDB; the limit applies on every backend
# so data that works on one database works on all.
TEXT_MAX_BYTES = 65_535

# Half of a UTF-16 pair on its own: JSON's "\ud800" escape makes one, but it is not text, and
# no database driver can encode it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(value: str) -> bool:
    # isascii() reads a flag CPython keeps on every string: most text never needs the search.
    return not value.isascii() and _SURROGATE.search(value) is not None


def max_length(column: InstrumentedAttribute[Any]) -> int | None:
    """The column's declared length in characters (String(n)), or None for TEXT."""
    return getattr(column.property.columns[0].type, "length", None)


def text(
    value: Any,
    *,
    field: str,
    column: InstrumentedAttribute[Any] | None = None,
    required: bool = True,
) -> str | None:
    """A string that fits the column: not blank when required, no NUL, not too long."""
    if value is None:
        if required:
            raise InvalidInput(f"{field} is required", field=field)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    if required and not value.strip():
        raise InvalidInput(f"{field} must not be empty", field=field)
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain NUL characters", field=field)
    if has_lone_surrogate(value):
        raise InvalidInput(f"{field} must not contain lone UTF-16 surrogates", field=field)
    limit = max_length(column) if column is not None else None
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{field} must be at most {limit} characters long", field=field)
    if limit is None and len(value.encode()) > TEXT_MAX_BYTES:
        raise InvalidInput(f"{field} must be at most {TEXT_MAX_BYTES} bytes long", field=field)
    return value


def name(value: Any, *, field: str, column: InstrumentedAttribute[Any]) -> str:
    """A name requests refer to (username, groupname, label, tag): usable as a URL segment."""
    checked = text(value, field=field, column=column)
    assert checked is not None
    if checked.strip() != checked:
        raise InvalidInput(f"{field} must not start or end with spaces", field=field)
    if "/" in checked:
        raise InvalidInput(f"{field} must not contain '/'", field=field)
    return checked


def flush_or_conflict(
    session: Session, *, entity: str, unique: Mapping[str, ColumnElement[bool]]
) -> None:
    """Flush; when a unique constraint refuses it, roll back and name the field that clashed."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        for field, condition in unique.items():
            if session.scalar(select(exists().where(condition))):
                raise Conflict(
                    f"A {entity} with this {field} already exists", field=field
                ) from None
        raise Conflict(f"The {entity} conflicts with existing data") from None
