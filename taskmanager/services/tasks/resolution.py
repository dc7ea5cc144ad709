"""References to users, groups, templates and tags (ids, names or URLs), resolved in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from ...models import (
    Group,
    Tag,
    TaskTemplate,
    User,
)
from ..kit import references

# References looked up per query: each is one bound parameter per name column it may match.
LOOKUP_BATCH = 5000

Reference = str | int


@dataclass(frozen=True)
class _NameColumn:
    column: Any
    key: Callable[[Any], str]
    normalise: Callable[[str], str] = str


def _resolve(
    session: Session,
    model: Any,
    names: Sequence[_NameColumn],
    refs: Iterable[Reference],
    *,
    name_first: bool = False,
) -> dict[Reference, Any]:
    """Map each reference (id, name or URL) to its object in one query; unknown ones are absent.

    The batch form of the services' single lookups, with the same precedence: a number is an id
    first and a name second (a name first for templates, whose URLs use the label).
    """
    keys = {ref: references.normalise(ref) for ref in set(refs)}
    found = _find(session, model, names, keys)
    by_id = {obj.id: obj for obj in found}
    by_name = [(name, {name.key(obj): obj for obj in found}) for name in names]

    def named(key: str) -> Any:
        for name, index in by_name:
            if (obj := index.get(name.normalise(key))) is not None:
                return obj
        return None

    resolved: dict[Reference, Any] = {}
    for ref, key in keys.items():
        number = references.as_id(ref)
        numbered = by_id.get(number) if number is not None else None
        obj = (named(key) or numbered) if name_first else (numbered or named(key))
        if obj is not None:
            resolved[ref] = obj
    return resolved


def _find(
    session: Session, model: Any, names: Sequence[_NameColumn], keys: Mapping[Reference, str]
) -> list[Any]:
    """Every object whose id or name any of the references (with their keys) may mean."""
    found: list[Any] = []
    # In slices: each IN list is a bound parameter per value, and PostgreSQL takes 65,535.
    pending = list(keys.items())
    for start in range(0, len(pending), LOOKUP_BATCH):
        batch = pending[start : start + LOOKUP_BATCH]
        ids = {number for ref, _key in batch if (number := references.as_id(ref)) is not None}
        texts = {key for _ref, key in batch if key}
        conditions = [model.id.in_(ids)] if ids else []
        if texts:
            conditions += [name.column.in_({name.normalise(t) for t in texts}) for name in names]
        if conditions:
            found.extend(session.scalars(select(model).where(or_(*conditions))))
    return found


_USER_NAMES = (
    _NameColumn(User.username, lambda user: user.username),
    _NameColumn(func.lower(User.email), lambda user: user.email.lower(), str.lower),
)
_GROUP_NAMES = (_NameColumn(Group.groupname, lambda group: group.groupname),)
_TEMPLATE_NAMES = (_NameColumn(TaskTemplate.label, lambda template: template.label),)
_TAG_NAMES = (_NameColumn(Tag.name, lambda tag: tag.name),)


def resolve_users(session: Session, refs: Iterable[Reference]) -> dict[Reference, User]:
    return _resolve(session, User, _USER_NAMES, refs)


def resolve_groups(session: Session, refs: Iterable[Reference]) -> dict[Reference, Group]:
    return _resolve(session, Group, _GROUP_NAMES, refs)


def resolve_templates(session: Session, refs: Iterable[Reference]) -> dict[Reference, TaskTemplate]:
    return _resolve(session, TaskTemplate, _TEMPLATE_NAMES, refs, name_first=True)


def resolve_tags(session: Session, refs: Iterable[Reference]) -> dict[Reference, Tag]:
    return _resolve(session, Tag, _TAG_NAMES, refs)
