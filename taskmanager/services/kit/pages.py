"""Pages for browsing: sorting, slicing with a database count, search, per-row counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from ...models import (
    Task,
)
from .typed_rows import as_tuples

T = TypeVar("T")

# Statuses after which a task needs nobody any more; every other status is open.
CLOSED_STATUSES = ("done", "aborted")


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int


# A query selecting any columns (Select is generic in each column selected).
AnySelect = Select[*tuple[Any, ...]]


def ordered(query: AnySelect, columns: Mapping[str, Any], sort: str, tiebreak: Any) -> AnySelect:
    """Order by `sort` (a key of `columns`, "-key" descending), then by the tiebreak column."""
    descending = sort.startswith("-")
    column = columns.get(sort.lstrip("-"), tiebreak)
    if descending:
        return query.order_by(column.desc(), tiebreak.desc())
    return query.order_by(column.asc(), tiebreak.asc())


def page_of(
    session: Session, query: AnySelect, offset: int, limit: int, *, rows: bool = False
) -> Page[Any]:
    """The slice and the number of rows the query selects (counted by the database)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items: list[Any] = []
    offset = max(offset, 0)
    # A page past the last is empty: its offset need not reach the database (nor fit its ints).
    if offset < total:
        sliced = query.offset(offset).limit(limit)
        items = (
            [tuple(row) for row in session.execute(sliced)]
            if rows
            else list(session.scalars(sliced))
        )
    return Page(items=items, total=int(total))


def like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def matches(columns: Iterable[Any], search: str | None) -> ColumnElement[bool] | None:
    if not search or not search.strip():
        return None
    pattern = like(search.strip())
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns))


def open_condition() -> ColumnElement[bool]:
    return Task.status.not_in(CLOSED_STATUSES)


# --- users -----------------------------------------------------------------------------------


def counts(session: Session, query: AnySelect) -> dict[Any, int]:
    return {key: count for key, count in as_tuples(session.execute(query))}
