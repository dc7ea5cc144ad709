"""Health routes under /-/: liveness, readiness (the database answers) and API versions."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..models import db

COMPATIBLE_VERSION = "6.6.0"

bp = APIBlueprint("health", __name__, url_prefix="/-", tag="Health")


@bp.get("/healthy")
@bp.doc(summary="The process is alive")
def healthy() -> dict[str, Any]:
    return {"healthy": True}


@bp.get("/ready")
@bp.doc(summary="The server can answer: its database is reachable", responses=[200, 503])
def ready() -> tuple[dict[str, Any], int]:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        return {"ready": False, "database": "unreachable", "message": type(exc).__name__}, 503
    return {"ready": True, "database": "ok"}, 200


@bp.get("/versions")
@bp.doc(summary="Server version and where each API version lives (used by task-client)")
def versions() -> dict[str, Any]:
    from .. import __version__

    return {
        "version": COMPATIBLE_VERSION,
        "server_version": __version__,
        "api_versions": {"1.0": "/api/v1/"},
    }
