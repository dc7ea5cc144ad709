"""REST API v1 (wire-compatible with the old TaskManager) and the health routes."""

from __future__ import annotations

from apiflask import APIBlueprint, APIFlask

from . import errors, health

v1 = APIBlueprint("api_v1", __name__, url_prefix="/api/v1")


def init_app(app: APIFlask) -> None:
    from . import users  # noqa: F401  (routes register on import)

    errors.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(v1)
