"""How requests name objects: an id, a name, or a URL whose last path segment is one of those."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from .errors import NotFound

T = TypeVar("T")

# Every id column is a 32-bit INTEGER; larger numbers can name nothing (and overflow SQLite).
MAX_ID = 2**31 - 1


def normalise(reference: str | int) -> str:
    """The reference as text; for a URL such as `/api/v1/users/3`, its last path segment."""
    text = str(reference).strip()
    if "/" in text:
        text = text.rstrip("/").rsplit("/", 1)[-1]
    return text


def as_id(reference: str | int) -> int | None:
    """The id a reference names, when it is a number an id column can hold."""
    if isinstance(reference, bool):
        return None
    if isinstance(reference, int):
        number = reference
    else:
        text = normalise(reference)
        # ASCII digits only ("²" is a digit int() refuses), and few enough to be an id (Python
        # refuses to convert more than 4300).
        if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
            return None
        number = int(text)
    return number if 0 < number <= MAX_ID else None


def find(
    session: Session,
    model: type[T],
    *,
    reference: str | int,
    name_column: InstrumentedAttribute[Any],
    name_first: bool = False,
) -> T | None:
    """The row named by id or by its name column; `name_first` where the URL uses the name."""
    object_id = as_id(reference)
    name = normalise(reference)

    def by_name() -> T | None:
        if not name:
            return None
        return session.scalars(select(model).where(name_column == name)).first()

    if name_first:
        found = by_name()
        if found is not None:
            return found
    if object_id is not None:
        found = session.get(model, object_id)
        if found is not None:
            return found
    return None if name_first else by_name()


def by_name(
    session: Session, model: type[T], *, name_column: InstrumentedAttribute[Any], name: str
) -> T | None:
    """The row whose name column equals the name exactly (no id or URL interpretation)."""
    return session.scalars(select(model).where(name_column == name)).first()


def found(row: T | None, *, what: str, reference: str | int, field: str) -> T:
    """The row a reference named, or 404 naming the field when it named nothing."""
    if row is None:
        raise NotFound(f"{what} {reference!r} does not exist", field=field)
    return row
