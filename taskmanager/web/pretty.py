"""Showing stored documents (task content, templates, callback bodies) readably."""

from __future__ import annotations

import json

from ..services.kit import documents


def pretty_document(text: str | None) -> str:
    """JSON re-indented; YAML and anything else as stored."""
    if not text:
        return ""
    try:
        return json.dumps(documents.parse_json(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text
