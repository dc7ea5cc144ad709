"""Pages of every list: one Page type, one clamp, the caps, and a keyset form for deep pages.

A page is a slice of a list ordered by id (or by a sort key with the id as tiebreak) and the
total the list holds, counted by the database. `offset` skips rows; `after_id` (keyset) starts
after a known id instead, which costs the same however deep the page is. The web's page
numbers are offsets in steps of the page size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
U = TypeVar("U")
S = TypeVar("S", bound="Select[*tuple[Any, ...]]")

# Most rows one page of a list may hold, and its default.
MAX_PAGE_SIZE = 1000
# Task lists (and a task's history, task groups) are larger: the official client asks without
# a limit and expects every task it may see.
MAX_TASK_PAGE_SIZE = 10_000

# A SELECT of any number of columns.
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Page(Generic[T]):
    """Items of one page, the list's total, and the offset, limit and keyset it was read with.

    `more` says a row follows the page (when the list read one row past it to know);
    `by_id` that the list is in id order (so the next page starts after the last id);
    `total_is_estimate` that the total was not counted for this page (it may lag behind).
    """

    items: list[T]
    total: int
    offset: int = 0
    limit: int = MAX_PAGE_SIZE
    after_id: int | None = None
    more: bool = False
    by_id: bool = True
    total_is_estimate: bool = False

    def with_items(self, items: list[U]) -> Page[U]:
        """This page holding other items (say, rows built from its own)."""
        return Page(
            items,
            self.total,
            self.offset,
            self.limit,
            self.after_id,
            self.more,
            self.by_id,
            self.total_is_estimate,
        )

    @property
    def number(self) -> int:
        """The page's number, from 1, counted in pages of `limit` rows."""
        return self.offset // self.limit + 1 if self.limit else 1

    @property
    def pages(self) -> int:
        """How many pages of `limit` rows the list fills (at least one)."""
        return max(-(-self.total // self.limit), 1) if self.limit else 1

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first(self) -> int:
        """The position (from 1) of the page's first row in the list; 0 when it is empty."""
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.limit, self.total)


def clamp(offset: int | None, limit: int | None, *, cap: int = MAX_PAGE_SIZE) -> tuple[int, int]:
    """Offset at least 0; limit between 0 and `cap` (the cap when not given)."""
    offset = max(offset or 0, 0)
    limit = cap if limit is None else min(max(limit, 0), cap)
    return offset, limit


def offset_of(number: int, size: int) -> int:
    """The offset of page `number` (from 1; lower numbers mean the first) of `size` rows."""
    return (max(number, 1) - 1) * size


def after(statement: S, id_column: Any, after_id: int | None) -> S:
    """The keyset form: only rows whose id is above `after_id` (every row when None)."""
    return statement if after_id is None else statement.where(id_column > after_id)


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
    cap: int = MAX_PAGE_SIZE,
    scalars: bool = True,
    total: int | None = None,
) -> Page[Any]:
    """One page of an ordered statement and the number of rows it selects (or `total`).

    A page past the last is empty without asking the database (its offset need not fit the
    database's integers). Without `scalars` the items are row tuples.
    """
    offset, limit = clamp(offset, limit, cap=cap)
    if total is None:
        total = count(session, statement)
    items: list[Any] = []
    if limit and offset < total:
        sliced = statement.offset(offset).limit(limit)
        items = (
            list(session.scalars(sliced))
            if scalars
            else [tuple(row) for row in session.execute(sliced)]
        )
    return Page(items=items, total=total, offset=offset, limit=limit)
