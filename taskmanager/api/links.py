"""References to tasks and what hangs off them, as server-relative URLs, and the task summary.

Routes of other resources (tasks, templates, tags) may live in modules not loaded yet, so their
URLs are built from the API prefix below the deployment prefix (SCRIPT_NAME), like url_for does.
"""

from __future__ import annotations

from typing import Any

from flask import request
from pydantic import BaseModel

from ..models import Task
from . import v1


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


def api_path(path: str) -> str:
    return f"{request.script_root}{v1.url_prefix}/{path}"


def task_uri(task_id: int) -> str:
    return api_path(f"tasks/{task_id}")


def task_summary(task: Task) -> dict[str, Any]:
    """The list shape of a task; load `tags` with the task (selectinload) to avoid N+1."""
    return {
        "uri": task_uri(task.id),
        "id": str(task.id),
        "status": task.status,
        "project": task.project,
        "template": api_path(f"task_templates/{task.template_id}"),
        "tags": [{"uri": api_path(f"tags/{tag.id}"), "name": tag.name} for tag in task.tags],
    }
