"""Pages for browsing: sorting, search, open tasks, per-row counts (slicing: `paging`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.orm import Session

from ...models import CLOSED_STATUSES, Task
from .paging import AnySelect
from .typed_rows import as_tuples


def ordered(query: AnySelect, columns: Mapping[str, Any], sort: str, tiebreak: Any) -> AnySelect:
    """Order by `sort` (a key of `columns`, "-key" descending), then by the tiebreak column."""
    descending = sort.startswith("-")
    column = columns.get(sort.lstrip("-"), tiebreak)
    if descending:
        return query.order_by(column.desc(), tiebreak.desc())
    return query.order_by(column.asc(), tiebreak.asc())


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
