"""Pages of a list: a slice ordered by id and the total, counted by the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

MAX_LIMIT = 1000

# A SELECT of any number of columns.
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


def clamp(offset: int | None, limit: int | None) -> tuple[int, int]:
    """Offset at least 0; limit between 0 and MAX_LIMIT (the maximum when not given)."""
    offset = max(offset or 0, 0)
    limit = MAX_LIMIT if limit is None else min(max(limit, 0), MAX_LIMIT)
    return offset, limit


def count(session: Session, statement: AnySelect) -> int:
    """SELECT COUNT(*) over the statement's rows, without loading them."""
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    return int(session.scalar(counted) or 0)


def page(
    session: Session,
    statement: AnySelect,
    *,
    offset: int | None = None,
    limit: int | None = None,
    scalars: bool = True,
) -> Page[Any]:
    """One page of an ordered statement and the total number of rows it selects."""
    offset, limit = clamp(offset, limit)
    total = count(session, statement)
    items: list[Any] = []
    if limit and offset < total:
        sliced = statement.offset(offset).limit(limit)
        items = list(session.scalars(sliced) if scalars else session.execute(sliced))
    return Page(items=items, total=total, offset=offset, limit=limit)
