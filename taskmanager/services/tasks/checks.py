"""Checks of a task's values: column fits, callback hosts, tag names, declared scans."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ...config import CallbackHosts
from ...models import (
    Task,
    TaskTemplate,
)
from ..callbacks import destinations as callback_destinations
from ..kit import validation
from ..kit.errors import DomainError, InvalidInput, NotFound
from ..reference import tags as tag_service
from ..reference import templates as template_service
from .resolution import Reference

# Tags one task may name (a clear 400 rather than a huge join table write).
TAGS_PER_TASK_MAX = 1000

# The column each checked text value goes into (its length, or TEXT's limit, applies).
COLUMNS: dict[str, Any] = {
    "project": Task.project,
    "status": Task.status,
    "raw_content": Task.raw_content,
    "raw_callback_url": Task.raw_callback_url,
    "callback_content": Task.callback_content,
    "tracking_id": Task.tracking_id,
    "generator_url": Task.generator_url,
    "application_name": Task.application_name,
    "application_version": Task.application_version,
    "subject": Task.subject,
    "series": Task.series,
    "wait_for": Task.wait_for,
}
REQUIRED = frozenset({"project", "status", "raw_content", "tracking_id"})


def stored_text(value: Any) -> str | None:
    """Content arrives as a JSON object or as text (JSON or YAML); it is stored as text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


class Problems:
    """Errors found while checking a request, keyed by field; 404s kept apart from 400s."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}
        self.not_found = False
        self.extra: dict[str, Any] = {}
        # What the request may do but should know (TASKMAN_SCAN_CHECK=warn), keyed by field.
        self.warnings: dict[str, list[str]] = {}

    def add(self, field_name: str, message: str, *, not_found: bool = False) -> None:
        self.errors.setdefault(field_name, []).append(message)
        self.not_found = self.not_found or not_found

    def __bool__(self) -> bool:
        return bool(self.errors)

    def error(self) -> DomainError:
        message = "; ".join(m for messages in self.errors.values() for m in messages)
        kind = NotFound if self.not_found else InvalidInput
        return kind(message, errors=self.errors, extra=self.extra)


def check(problems: Problems, name: str, value: Any, *, field_name: str | None = None) -> None:
    """The value fits its column (see COLUMNS); problems collected under the field as given."""
    field_name = field_name or name
    try:
        validation.text(value, field=field_name, column=COLUMNS[name], required=name in REQUIRED)
    except InvalidInput as error:
        problems.add(field_name, error.message)


def check_idempotency_key(problems: Problems, key: Any, *, field_name: str) -> None:
    """A client's key for a task, when given: text that fits its column, neither blank nor with
    spaces around it (a PAD SPACE collation would take `k ` for `k`)."""
    if key is None:
        return
    try:
        validation.text(key, field=field_name, column=Task.idempotency_key)
    except InvalidInput as error:
        problems.add(field_name, error.message)
        return
    if key.strip() != key:
        problems.add(field_name, f"{field_name} must not start or end with spaces")


def check_callback_url(
    problems: Problems, url: Any, hosts: CallbackHosts, *, field_name: str
) -> None:
    """A written-out callback host that TASKMAN_CALLBACK_ALLOWED_HOSTS never allows is refused."""
    if isinstance(url, str):
        try:
            callback_destinations.check_url(url, hosts=hosts, field=field_name)
        except InvalidInput as error:
            problems.add(field_name, error.message)


# Bounds of the scheduling numbers: beyond them a value is a mistake, not a plan.
PRIORITY_LIMIT = 1_000_000
EFFORT_MAX = 1_000_000.0


def check_scheduling(problems: Problems, values: dict[str, Any]) -> None:
    """priority (a whole number), effort (positive), due (a date-time with or without zone,
    taken as UTC without one) and a wait_for URL (http or https, an allowed host)."""
    if "priority" in values:
        priority = values["priority"]
        if isinstance(priority, bool) or not isinstance(priority, int):
            problems.add("priority", "priority must be a whole number")
        elif abs(priority) > PRIORITY_LIMIT:
            problems.add(
                "priority", f"priority must lie between -{PRIORITY_LIMIT:,} and {PRIORITY_LIMIT:,}"
            )
    if "effort" in values:
        effort = values["effort"]
        if isinstance(effort, bool) or not isinstance(effort, int | float):
            problems.add("effort", "effort must be a number")
        elif not 0 < effort <= EFFORT_MAX or effort != effort:
            problems.add("effort", f"effort must be above 0 and at most {EFFORT_MAX:,.0f}")
    due = values.get("due")
    if due is not None and not isinstance(due, datetime):
        problems.add("due", "due must be a date-time, e.g. 2027-01-31T17:00:00Z")


def check_wait_for(problems: Problems, url: Any, hosts: CallbackHosts) -> None:
    """Where a task's data will appear: checked like a callback URL (http(s), allowed hosts)."""
    if url is None:
        return
    check(problems, "wait_for", url)
    if isinstance(url, str) and not problems.errors.get("wait_for"):
        if not url.lower().startswith(("http://", "https://")):
            problems.add("wait_for", "wait_for must be an http:// or https:// URL")
        else:
            check_callback_url(problems, url, hosts, field_name="wait_for")


def check_tag_name(problems: Problems, name: str) -> None:
    try:
        tag_service.validate_name(name, field="tags")
    except InvalidInput as error:
        problems.add("tags", error.message)


def _scan_labels(value: Any) -> set[str] | None:
    """Names in `scan_sources`: a mapping's keys, or the `label` of each list entry."""
    if isinstance(value, dict):
        return {str(key) for key in value}
    if isinstance(value, list):
        return {str(e["label"]) for e in value if isinstance(e, dict) and "label" in e}
    return None


def _parsed(text: str) -> Any:
    try:
        return template_service.parse_document(text)
    except ValueError:
        return None


def scan_mismatch(declared: set[str], document: Any) -> tuple[list[str], list[str]] | None:
    """(missing, extra) names of a task content's `scan_sources` against the scans its template
    declares; None when they match or the content names no scans. (The command line checks
    task files with this before uploading.)"""
    if not isinstance(document, dict) or "scan_sources" not in document:
        return None
    given = _scan_labels(document["scan_sources"])
    if given is None or given == declared:
        return None
    return sorted(declared - given), sorted(given - declared)


def _scan_mismatch(template: TaskTemplate, declared: set[str], document: Any) -> str | None:
    """Why a task's `scan_sources` do not match its template's scans, or None when they do."""
    mismatch = scan_mismatch(declared, document)
    if mismatch is None:
        return None
    missing, extra = mismatch
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"extra {', '.join(extra)}")
    return (
        f"scan_sources do not match the scans template {template.label!r} declares "
        f"({', '.join(sorted(declared))}): {'; '.join(parts)}"
    )


class TemplateScans:
    """Declared scans per template, parsed once per request; a mismatch is an error (`strict`),
    a warning (`warn`) or not looked for (`off`), as TASKMAN_SCAN_CHECK says."""

    def __init__(self, mode: str = "strict") -> None:
        self._by_id: dict[int, set[str] | None] = {}
        self.mode = mode

    def of(self, template: TaskTemplate) -> set[str] | None:
        if template.id not in self._by_id:
            self._by_id[template.id] = template_service.declared_scans(template.content)
        return self._by_id[template.id]

    def check(
        self,
        problems: Problems,
        template: TaskTemplate,
        raw_content: str,
        parsed: Any = None,
    ) -> None:
        declared = None if self.mode == "off" else self.of(template)
        if declared is None:
            return
        document = parsed if parsed is not None else _parsed(raw_content)
        reason = _scan_mismatch(template, declared, document)
        if reason is not None and self.mode == "warn":
            problems.warnings.setdefault("content", []).append(reason)
        elif reason is not None:
            problems.add("content", reason)
            given = _scan_labels(document["scan_sources"]) or set()
            problems.extra.update(
                missing_scans=sorted(declared - given), extra_scans=sorted(given - declared)
            )


def is_tag_name(reference: Reference) -> bool:
    """Tags are named by name (created when new); a number or URL names an existing tag."""
    return isinstance(reference, str) and "/" not in reference
