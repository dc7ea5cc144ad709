"""Tags: short names attached to tasks to sort and filter them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import Tag
from ..kit import paging, references, rows, validation
from ..kit.errors import InvalidInput, NotFound

NAMES_PER_QUERY = 10_000
# Tags one list or claim may filter by (all must be on a task): each is a join the database
# plans, and a few hundred made PostgreSQL's planner exhaust the server's memory.
FILTERS_MAX = 20


def get_by_reference(session: Session, *, reference: str | int) -> Tag | None:
    """A tag by id, name or URL."""
    return references.find(session, Tag, reference=reference, name_column=Tag.name)


def get_or_raise(session: Session, *, reference: str | int, field: str = "tag") -> Tag:
    return references.found(
        get_by_reference(session, reference=reference),
        what="Tag",
        reference=reference,
        field=field,
    )


def list_page(
    session: Session, *, offset: int | None = None, limit: int | None = None
) -> paging.Page[Tag]:
    """A page of tags, ordered by id, and the number of tags."""
    return paging.page(session, select(Tag).order_by(Tag.id), offset=offset, limit=limit)


def validate_name(name: object, *, field: str = "name") -> str:
    return validation.name(name, field=field, column=Tag.name)


def _flush(session: Session, tag: Tag) -> None:
    validation.flush_or_conflict(session, entity="tag", unique={"name": Tag.name == tag.name})


def create(session: Session, *, name: str) -> Tag:
    """A new tag; 409 when the name is taken."""
    tag = Tag(name=validate_name(name))
    session.add(tag)
    _flush(session, tag)
    return tag


def update(session: Session, *, tag: Tag, name: str) -> Tag:
    """Rename the tag (tasks keep it)."""
    tag.name = validate_name(name)
    _flush(session, tag)
    return tag


def delete(session: Session, *, tag: Tag) -> None:
    """Remove the tag from every task and delete it."""
    session.execute(sql_delete(Tag).where(Tag.id == tag.id))
    session.flush()


def check_filters(names: Sequence[str], *, field: str = "tag") -> None:
    """400 when a request filters by more tags than FILTERS_MAX (repeats count too)."""
    count = len(names)
    if count > FILTERS_MAX:
        raise InvalidInput(f"Filter by at most {FILTERS_MAX} tags, got {count}", field=field)


def get_or_create_many(session: Session, *, names: Iterable[str], field: str = "tags") -> list[Tag]:
    """The tags with these names, in the order given, creating the missing ones.

    Safe when concurrent requests create the same new tag: the unique constraint decides and
    every request gets the one row.
    """
    if isinstance(names, str | bytes):
        raise InvalidInput(f"{field} must be a list of tag names", field=field)
    wanted = list(dict.fromkeys(validate_name(name, field=field) for name in names))
    if not wanted:
        return []
    rows.insert_missing(session, Tag.__table__, [{"name": name} for name in wanted])  # type: ignore[arg-type]
    locking = session.get_bind().dialect.name in {"mysql", "mariadb"}
    found: dict[str, Tag] = {}
    # In slices: PostgreSQL takes at most 65,535 bound parameters per statement.
    for start in range(0, len(wanted), NAMES_PER_QUERY):
        query = select(Tag).where(Tag.name.in_(wanted[start : start + NAMES_PER_QUERY]))
        if locking:
            # A locking read sees rows committed after this transaction's snapshot was taken.
            query = query.with_for_update(read=True)
        found.update((tag.name, tag) for tag in session.scalars(query))
    # Case- or pad-insensitive collations may match an existing tag spelled differently.
    by_folded = {name.casefold().rstrip(): tag for name, tag in found.items()}
    result: dict[int, Tag] = {}
    for name in wanted:
        tag = found.get(name) or by_folded.get(name.casefold().rstrip())
        if tag is None:  # pragma: no cover - the insert above guarantees a row
            raise NotFound(f"Tag {name!r} could not be created", field=field)
        result.setdefault(tag.id, tag)
    return list(result.values())
