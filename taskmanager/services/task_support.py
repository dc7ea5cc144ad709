"""What task creation needs from templates and tags: declared scans, tags created on demand.

(The template and tag services own these rules once they exist; tasks use them through here.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

import yaml
from sqlalchemy import Table, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import Tag

TAG_NAME_MAX = 32
TAGS = cast(Table, Tag.__table__)


def parse_document(text: str) -> Any:
    """A JSON or YAML document as Python data; None when it is neither."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def scan_labels(value: Any) -> set[str] | None:
    """Names from a `scans`-like value: a mapping's keys, or the `label` of each list entry."""
    if isinstance(value, dict):
        return {str(key) for key in value}
    if isinstance(value, list):
        labels: set[str] = set()
        for entry in value:
            if isinstance(entry, dict) and "label" in entry:
                labels.add(str(entry["label"]))
            elif isinstance(entry, str):
                labels.add(entry)
        return labels
    return None


def declared_scans(content: str | dict[str, Any] | None) -> set[str] | None:
    """The scan labels a template declares under `scans`; None when it declares none."""
    document = parse_document(content) if isinstance(content, str) else content
    if not isinstance(document, dict) or "scans" not in document:
        return None
    return scan_labels(document["scans"])


def get_or_create_tags(session: Session, *, names: Iterable[str]) -> dict[str, Tag]:
    """The tags with these names, creating missing ones; safe when others create them at once."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    found = _tags_named(session, wanted, locking=False)
    missing = [name for name in wanted if name not in found]
    if missing:
        # Inserted in name order, so concurrent requests wait for each other without deadlock.
        session.execute(_insert_ignoring_duplicates(session), [{"name": n} for n in missing])
        found.update(_tags_named(session, missing, locking=True))
    return found


def _tags_named(session: Session, names: list[str], *, locking: bool) -> dict[str, Tag]:
    query = select(Tag).where(Tag.name.in_(names))
    if locking:
        # A locking read sees tags that concurrent requests committed, even under MariaDB's
        # REPEATABLE READ; before inserting it would take gap locks and invite deadlocks.
        query = query.with_for_update(read=True)
    return {tag.name: tag for tag in session.scalars(query)}


def _insert_ignoring_duplicates(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(TAGS).on_conflict_do_nothing(index_elements=["name"])
    if dialect == "sqlite":
        return sqlite.insert(TAGS).on_conflict_do_nothing(index_elements=["name"])
    return mysql.insert(TAGS).prefix_with("IGNORE")
