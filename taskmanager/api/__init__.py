"""REST API v1 (wire-compatible with the old TaskManager) and the health routes."""

from __future__ import annotations

import importlib
from typing import Any

from apiflask import APIBlueprint, APIFlask

from . import errors, health

v1 = APIBlueprint("api_v1", __name__, url_prefix="/api/v1", tag="API v1")

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
)

# Every API v1 route accepts HTTP basic auth or a token; Swagger UI's "Try it out" needs this.
API_SECURITY: list[dict[str, list[str]]] = [{"basicAuth": []}, {"tokenAuth": []}]


def _document_security(spec: dict[Any, Any] | str) -> dict[Any, Any] | str:
    if not isinstance(spec, dict):
        return spec
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
    return spec


def init_app(app: APIFlask) -> None:
    for name in ROUTE_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    errors.register(app)
    app.spec_processor(_document_security)
    app.register_blueprint(health.bp)
    app.register_blueprint(v1)
