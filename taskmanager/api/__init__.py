"""REST API v1 (wire-compatible with the old TaskManager) and the health routes."""

from __future__ import annotations

import importlib

from apiflask import APIBlueprint, APIFlask

from . import errors, health

v1 = APIBlueprint("api_v1", __name__, url_prefix="/api/v1")

# Each module registers its routes on `v1` when imported; one module per resource.
ROUTE_MODULES = ("users", "locks", "taskgroups")


def init_app(app: APIFlask) -> None:
    for name in ROUTE_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    errors.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(v1)
