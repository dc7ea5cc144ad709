"""REST API v1 (wire-compatible with the old TaskManager) and the health routes."""

from __future__ import annotations

import importlib
from typing import Any

from apiflask import APIBlueprint, APIFlask

from ..services.tasks import lists
from . import auth, errors, health, openapi, reference

v1 = APIBlueprint("api_v1", __name__, url_prefix="/api/v1", tag="API v1")
v1.before_request(auth.require_credentials_first)

# Each module registers its routes on `v1` when imported; one module per resource.
ROUTE_MODULES = (
    "users",
    "groups",
    "roles",
    "tags",
    "templates",
    "meta",
    "config_service",
    "callbacks",
    "tasks",
    "task_export",
    "locks",
    "taskgroups",
    "projects",
)

# Every API v1 route accepts HTTP basic auth or a token; Swagger UI's "Try it out" needs this.
API_SECURITY: list[dict[str, list[str]]] = [{"basicAuth": []}, {"tokenAuth": []}]


FORBIDDEN_RESPONSE = {
    "description": "The caller lacks the permission this needs",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}},
}


def _document_forbidden(app: APIFlask, spec: dict[Any, Any]) -> None:
    """Every route behind `auth.permission_required` may answer 403: say so in its document."""
    paths = spec.get("paths", {})
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        if not getattr(view, "taskman_permissions", None):
            continue
        operations = paths.get(openapi.openapi_path(rule.rule), {})
        for method in rule.methods or ():
            operation = operations.get(method.lower())
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("403", dict(FORBIDDEN_RESPONSE))


def _document_security(app: APIFlask, spec: dict[Any, Any] | str) -> dict[Any, Any] | str:
    if not isinstance(spec, dict):
        return spec
    _document_forbidden(app, spec)
    openapi.finish(app, spec)
    for path, operations in spec.get("paths", {}).items():
        if "/api/v1/" not in path:
            continue
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation.setdefault("security", API_SECURITY)
            operation["responses"].setdefault(
                "401",
                {
                    "description": "Authentication required",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}
                    },
                },
            )
            openapi.document_errors(operation)
    return spec


def init_app(app: APIFlask) -> None:
    for name in ROUTE_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    errors.register(app)
    settings = app.extensions["taskman_settings"]
    app.extensions["taskman_count_cache"] = lists.CountCache(settings.list_count_cache_seconds)
    app.spec_processor(lambda spec: _document_security(app, spec))
    app.register_blueprint(health.bp)
    app.register_blueprint(reference.bp)
    app.register_blueprint(v1)
