"""Result rows as the plain tuples they are, for type checkers.

mypy reads a `Row` of untyped columns (Core tables, aggregates) as objects when it is unpacked;
these casts cost nothing at run time and let `for task_id, name in ...` type-check.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Row


def as_tuples(rows: Iterable[Row[Any]]) -> Iterable[tuple[Any, ...]]:
    return cast(Iterable[tuple[Any, ...]], rows)


def as_tuple(row: Row[Any]) -> tuple[Any, ...]:
    return cast(tuple[Any, ...], row)
