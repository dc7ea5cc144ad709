"""The finishing touches to the OpenAPI document that client generators rely on.

- Every operation has an `operationId`: the view function's name (`list_tasks`, `lock_task`),
  unless the route sets `@doc(operation_id=...)`. The ids are part of the API contract; the full
  list is kept in docs/api.md and tests/api/test_openapi_document.py fails when one changes.
  To rename a view function without changing its id, give the old id to `operation_id`.
- Every schema has one plain name. APIFlask names a pydantic model nested in another
  `Parent.Child`, once per parent: the same model turned up under several names, beside its own.
  Each gets the model's own name; two different models of one name are refused here (rename one).
- Every error answer (400/401/403/404/409/413/429) is described by the one error schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from apiflask import APIFlask

ERROR_REF = {"$ref": "#/components/schemas/HTTPError"}
# APIFlask registers the validation error schema separately; ours is the same shape (errors.py).
_SAME_AS_ERROR = "ValidationError"

TOO_LARGE_RESPONSE = {
    "description": "The request body is larger than the server accepts (TASKMAN_MAX_REQUEST_BYTES)",
    "content": {"application/json": {"schema": ERROR_REF}},
}
THROTTLED_RESPONSE = {
    "description": "Too many failed logins for this account or from this address: wait for "
    "Retry-After seconds",
    "headers": {
        "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}},
    },
    "content": {"application/json": {"schema": ERROR_REF}},
}


def operations(spec: dict[Any, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) of every operation in the document."""
    for path, items in spec.get("paths", {}).items():
        for method, operation in items.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def name_operations(spec: dict[Any, Any], endpoints: dict[tuple[str, str], str]) -> None:
    """Give each operation without an explicit id its view function's name, and refuse two
    operations of one id. `endpoints` maps (OpenAPI path, method) to the Flask endpoint."""
    seen: dict[str, str] = {}
    for path, method, operation in operations(spec):
        endpoint = endpoints.get((path, method))
        if endpoint is not None:
            operation.setdefault("operationId", endpoint.rsplit(".", 1)[-1])
        operation_id = operation.get("operationId")
        if operation_id is None:
            continue
        where = f"{method.upper()} {path}"
        if operation_id in seen:
            raise ValueError(
                f"operationId {operation_id!r} of {where} is also that of {seen[operation_id]}: "
                "set another with @doc(operation_id=...)"
            )
        seen[operation_id] = where


def _rewrite_refs(node: Any, renamed: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.removeprefix("#/components/schemas/")
            if name in renamed:
                node["$ref"] = f"#/components/schemas/{renamed[name]}"
        for value in node.values():
            _rewrite_refs(value, renamed)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, renamed)


def plain_schema_names(spec: dict[Any, Any]) -> None:
    """`Parent.Child` becomes `Child`, once; the validation error schema becomes the error one."""
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    renamed = {name: name.rsplit(".", 1)[-1] for name in schemas if "." in name}
    if _SAME_AS_ERROR in schemas and schemas[_SAME_AS_ERROR] == schemas.get("HTTPError"):
        renamed[_SAME_AS_ERROR] = "HTTPError"
    _rewrite_refs(spec, renamed)
    for name, plain in sorted(renamed.items()):
        schema = schemas.pop(name)
        existing = schemas.setdefault(plain, schema)
        if existing != schema:
            raise ValueError(
                f"Two different schemas are named {plain!r} ({name} and {plain}): rename a model"
            )


def document_errors(operation: dict[str, Any]) -> None:
    """An /api/v1 operation: what any request may be answered besides its own errors."""
    responses = operation["responses"]
    if "requestBody" in operation:
        responses.setdefault("413", dict(TOO_LARGE_RESPONSE))
    # Basic credentials count towards the login throttle on every route.
    responses.setdefault("429", dict(THROTTLED_RESPONSE))


def finish(app: APIFlask, spec: dict[Any, Any]) -> None:
    """Operation ids and plain schema names (see the module's docstring)."""
    endpoints: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        path = openapi_path(rule.rule)
        for method in rule.methods or ():
            endpoints[(path, method.lower())] = rule.endpoint
    name_operations(spec, endpoints)
    plain_schema_names(spec)


def openapi_path(rule: str) -> str:
    """`/tasks/<int:task_id>` (a Flask rule) as `/tasks/{task_id}` (an OpenAPI path)."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)
