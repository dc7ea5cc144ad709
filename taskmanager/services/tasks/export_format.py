"""The export's row format: its columns, and how a row becomes CSV cells. Kept apart from the
export's queries, so that the CLI (an HTTP client, quick to start) writes the same format
without loading the database layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The fields of an export row, in the order CSV columns take.
COLUMNS = (
    "id",
    "project",
    "template",
    "status",
    "users",
    "groups",
    "lock",
    "create_time",
    "update_time",
    "tags",
    "tracking_id",
)
# Fields holding lists (of names).
LIST_COLUMNS = ("users", "groups", "tags")


def csv_cells(row: Mapping[str, Any]) -> list[Any]:
    """A row's CSV cells in column order: a list is one cell, its names joined by `;`; a
    missing value an empty cell."""
    return [
        ";".join(row.get(name) or ()) if name in LIST_COLUMNS else row.get(name) for name in COLUMNS
    ]
