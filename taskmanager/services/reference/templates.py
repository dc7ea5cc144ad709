"""Task templates: the documents (JSON or YAML) that tell a client how to show a task."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ...models import Task, TaskTemplate
from ..kit import documents, paging, references, validation
from ..kit.errors import Conflict, InvalidInput


def get_by_reference(session: Session, *, reference: str | int) -> TaskTemplate | None:
    """A template by label (its URL uses the label), id or URL."""
    return references.find(
        session, TaskTemplate, reference=reference, name_column=TaskTemplate.label, name_first=True
    )


def get_or_raise(
    session: Session, *, reference: str | int, field: str = "template"
) -> TaskTemplate:
    return references.found(
        get_by_reference(session, reference=reference),
        what="Template",
        reference=reference,
        field=field,
    )


def list_page(
    session: Session, *, offset: int | None = None, limit: int | None = None
) -> paging.Page[Any]:
    """A page of (id, label) rows, ordered by id, and the number of templates."""
    query = select(TaskTemplate.id, TaskTemplate.label).order_by(TaskTemplate.id)
    return paging.page(session, query, offset=offset, limit=limit, scalars=False)


def parse_document(text: str) -> Any:
    """The JSON or YAML document in the text; ValueError when it is neither (or breaks the
    rules every document keeps: see services/kit/documents.py)."""
    return documents.parse_json_or_yaml(text)


def content_text(content: Any, *, field: str = "content") -> str:
    """Stored form of template content: an object becomes JSON; a string must parse as JSON/YAML."""
    if isinstance(content, dict | list):
        content = json.dumps(content)
    elif isinstance(content, str):
        try:
            parse_document(content)
        except documents.DocumentError as error:
            raise InvalidInput(f"{field}: {error.message}", field=field) from None
        except ValueError as error:
            raise InvalidInput(f"{field} is neither JSON nor YAML: {error}", field=field) from None
    checked = validation.text(content, field=field, column=TaskTemplate.content)
    assert checked is not None
    return checked


def declared_scans(template_content: str) -> set[str] | None:
    """The scan labels a (ViewR) template declares under `scans`; None when it declares none."""
    try:
        document = parse_document(template_content)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    scans = document.get("scans")
    labels: set[str] = set()
    if isinstance(scans, dict):
        labels = {str(key) for key in scans}
    elif isinstance(scans, list):
        for scan in scans:
            if isinstance(scan, dict) and scan.get("label") is not None:
                labels.add(str(scan["label"]))
            elif isinstance(scan, str | int):
                labels.add(str(scan))
    return labels or None


def _flush(session: Session, template: TaskTemplate) -> None:
    validation.flush_or_conflict(
        session, entity="template", unique={"label": TaskTemplate.label == template.label}
    )


def create(session: Session, *, label: str, content: Any) -> TaskTemplate:
    """A new template; 409 when the label is taken."""
    template = TaskTemplate(
        label=validation.name(label, field="label", column=TaskTemplate.label),
        content=content_text(content),
    )
    session.add(template)
    _flush(session, template)
    return template


def update(session: Session, *, template: TaskTemplate, changes: dict[str, Any]) -> TaskTemplate:
    """Change the label and/or the content."""
    if "label" in changes:
        template.label = validation.name(changes["label"], field="label", column=TaskTemplate.label)
    if "content" in changes:
        template.content = content_text(changes["content"])
    _flush(session, template)
    return template


def delete(session: Session, *, template: TaskTemplate) -> None:
    """Delete a template no task uses (409 otherwise: tasks cannot be shown without it)."""
    in_use = session.scalar(select(exists().where(Task.template_id == template.id)))
    if in_use:
        raise Conflict(
            f"Template {template.label!r} is used by tasks; delete or move those tasks first",
            field="template",
        )
    session.execute(sql_delete(TaskTemplate).where(TaskTemplate.id == template.id))
    session.flush()
