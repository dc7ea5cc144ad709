"""Request and answer examples of the main routes, shown in the OpenAPI document.

One study's story: a template `lesions`, a task of project DEMO given to `erin`, which she locks
and finishes. tests/api/test_openapi_document.py checks each example against its schema.
"""

from __future__ import annotations

from typing import Any

_TASK = "/api/v1/tasks/17"
_TEMPLATE = "/api/v1/task_templates/lesions"
_ERIN = "/api/v1/users/3"
_CONTENT = {
    "template": "lesions",
    "scan_sources": {"T1": "https://xnat.example.org/S01/T1.nii.gz"},
}

TEMPLATE_CREATE: dict[str, Any] = {"label": "lesions", "content": {"scans": [{"label": "T1"}]}}
TEMPLATE_OUT: dict[str, Any] = {
    "uri": _TEMPLATE,
    "label": "lesions",
    "content": '{"scans": [{"label": "T1"}]}',
    "id": 2,
}

TASK_IN: dict[str, Any] = {
    "project": "DEMO",
    "template": "lesions",
    "content": _CONTENT,
    "users": ["erin"],
    "tags": ["batch-1"],
    "callback_url": "https://pipeline.example.org/lesions-done",
    "callback_content": '{"subject": "S01"}',
    "subject": "S01",
    "priority": 2,
    "due": "2026-12-08T17:00:00Z",
}
TASK_OUT: dict[str, Any] = {
    "uri": _TASK,
    "id": "17",
    "project": "DEMO",
    "template": _TEMPLATE,
    "content": '{"template": "lesions", "scan_sources": '
    '{"T1": "https://xnat.example.org/S01/T1.nii.gz"}}',
    "raw_content": '{"template": "lesions", "scan_sources": '
    '{"T1": "https://xnat.example.org/S01/T1.nii.gz"}}',
    "status": "queued",
    "lock": f"{_TASK}/lock",
    "tags": ["/api/v1/tags/4"],
    "callback_url": "https://pipeline.example.org/lesions-done",
    "raw_callback_url": "https://pipeline.example.org/lesions-done",
    "callback_content": '{"subject": "S01"}',
    "generator_url": None,
    "application_name": None,
    "application_version": None,
    "tracking_id": "unassigned",
    "create_time": "2026-12-01T09:30:00+00:00",
    "update_time": "2026-12-01T09:30:00+00:00",
    "users": [_ERIN],
    "groups": [],
    "users_via_group": [],
    "taskgroup": None,
    "done_by": None,
    "done_time": None,
    "subject": "S01",
    "series": None,
    "priority": 2,
    "due": "2026-12-08T17:00:00+00:00",
    "effort": 1.0,
    "wait_for": None,
    "wait_detail": None,
    "wait_checked_time": None,
}
TASK_LIST: dict[str, Any] = {
    "tasks": [
        {
            "uri": _TASK,
            "id": "17",
            "status": "queued",
            "project": "DEMO",
            "template": _TEMPLATE,
            "tags": [{"uri": "/api/v1/tags/4", "name": "batch-1"}],
        }
    ],
    "total_tasks": 1,
    "offset": 0,
    "limit": 10000,
}
TASK_UPDATE: dict[str, Any] = {"status": "done"}
TASK_DONE: dict[str, Any] = {
    **TASK_OUT,
    "status": "done",
    "update_time": "2026-12-01T10:05:00+00:00",
    "done_by": _ERIN,
    "done_time": "2026-12-01T10:05:00+00:00",
}

LOCK_IN: dict[str, Any] = {"lock": "erin"}
LOCK_OUT: dict[str, Any] = {"lock": _ERIN, "username": "erin", "error": None}
CLAIM_IN: dict[str, Any] = {"project": "DEMO", "template": "lesions"}
CLAIM_OUT: dict[str, Any] = {
    "uri": _TASK,
    "id": "17",
    "project": "DEMO",
    "status": "queued",
    "template": _TEMPLATE,
    "lock": f"{_TASK}/lock",
    "username": "erin",
}
