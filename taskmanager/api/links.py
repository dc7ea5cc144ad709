"""Task references as server-relative URLs, and the task summary shape.

The tasks routes may live in a module not loaded yet, so task URLs are built from the API prefix
below the deployment prefix (SCRIPT_NAME), as url_for would build them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import request
from pydantic import BaseModel

from ..services.taskgroups import TaskRow
from . import v1
from .uris import uri_maker


class TagRef(BaseModel):
    uri: str
    name: str


class TaskSummary(BaseModel):
    uri: str
    id: str
    status: str
    project: str
    template: str
    tags: list[TagRef]


def task_uri(task_id: int) -> str:
    return f"{_tasks_base()}{task_id}"


def _tasks_base() -> str:
    return f"{request.script_root}{v1.url_prefix}/tasks/"


def task_summaries(rows: Iterable[TaskRow]) -> list[dict[str, Any]]:
    """The list shape of tasks (URLs made once per list, not once per task)."""
    tasks_base = _tasks_base()
    template = uri_maker("api_v1.get_task_template", "template_id")
    tag = uri_maker("api_v1.get_tag", "tag_id")
    return [
        {
            "uri": f"{tasks_base}{row.id}",
            "id": str(row.id),
            "status": row.status,
            "project": row.project,
            "template": template(row.template_id),
            "tags": [{"uri": tag(tag_id), "name": name} for tag_id, name in row.tags],
        }
        for row in rows
    ]
