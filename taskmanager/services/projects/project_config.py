"""Load a project config file: roles, users, groups, tags and task templates.

The format is the one `taskmanager-config` reads (YAML or JSON; template paths relative to the
file; each template's label is its `template_name`). Existing roles, users, groups and tags are
left as they are; templates are created or brought up to date, since the repository is where
they are maintained.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...config import Settings
from ...models import TaskTemplate
from ..kit import documents
from ..kit.errors import Conflict, InvalidInput
from ..reference import templates
from . import config_import, project_repo

log = logging.getLogger(__name__)

TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json")
# What config_import loads (create-only); templates are read from files here.
ACCOUNT_SECTIONS = ("roles", "users", "groups", "tags")


def read_document(path: Path) -> Any:
    """Parse a YAML or JSON file; a clear error naming the file when it does not parse."""
    text = path.read_text(encoding="utf-8")
    try:
        return documents.parse_json(text) if path.suffix == ".json" else documents.parse_yaml(text)
    except ValueError as exc:
        raise InvalidInput(f"{path.name} does not parse: {exc}", field=path.name) from exc


def _template_paths(config: dict[str, Any], base: Path) -> list[Path]:
    listed = config.get("templates")
    if listed is None:
        folder = base / "templates"
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix in TEMPLATE_SUFFIXES)
    paths = []
    for entry in listed:
        path = (base / str(entry)).resolve()
        if not path.is_relative_to(base.resolve()):
            raise InvalidInput(
                f"template path {entry!r} leaves the config folder", field="templates"
            )
        if not path.is_file():
            raise InvalidInput(f"template file {entry!r} does not exist", field="templates")
        paths.append(path)
    return paths


def upsert_template(session: Session, *, path: Path) -> str:
    """Create or update the template a file holds; 'created', 'updated' or 'unchanged'."""
    document = read_document(path)
    label = document.get("template_name") if isinstance(document, dict) else None
    if not label:
        raise InvalidInput(f"{path.name} has no template_name", field="template_name")
    content = path.read_text(encoding="utf-8")
    template = session.scalars(select(TaskTemplate).where(TaskTemplate.label == label)).first()
    if template is None:
        templates.create(session, label=str(label), content=content)
        return "created"
    if template.content == content:
        return "unchanged"
    templates.update(session, template=template, changes={"content": content})
    return "updated"


def apply(session: Session, *, path: Path) -> dict[str, int]:
    """Load one config file into the database (flushes; the caller commits)."""
    config = read_document(path) or {}
    if not isinstance(config, dict):
        raise InvalidInput(f"{path.name} must hold a mapping", field=path.name)
    counts: Counter[str] = Counter()
    accounts = {key: config[key] for key in ACCOUNT_SECTIONS if config.get(key) is not None}
    created = config_import.import_config(session, definition=accounts)
    for key in ACCOUNT_SECTIONS:
        if getattr(created, key):
            counts[f"{key} created"] = len(getattr(created, key))
    for template_path in _template_paths(config, path.parent):
        counts[f"templates {upsert_template(session, path=template_path)}"] += 1
    session.flush()
    return dict(counts)


def load_from_repository(session: Session, settings: Settings) -> dict[str, int] | None:
    """Fetch PROJECT_REPO and load its config file, committing; None when no repository is set."""
    path = project_repo.sync(settings)
    if path is None:
        return None
    for attempt in range(3):
        try:
            counts = apply(session, path=path)
            session.commit()
        except (IntegrityError, Conflict):
            # Another server starting at the same moment created the same records first.
            session.rollback()
            if attempt == 2:
                raise
        else:
            log.info("Loaded project config %s: %s", path.name, counts or "nothing new")
            return counts
    return None
