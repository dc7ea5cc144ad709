"""Health routes under /-/: liveness, readiness (the database answers), API versions, metrics."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, abort
from flask import Response, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .. import observability
from ..models import db
from ..services.tasks import statistics

COMPATIBLE_VERSION = "6.6.0"

bp = APIBlueprint("health", __name__, url_prefix="/-", tag="Health")


@bp.get("/healthy")
@bp.doc(summary="The process is alive", operation_id="check_alive")
def healthy() -> dict[str, Any]:
    return {"healthy": True}


@bp.get("/ready")
@bp.doc(
    summary="The server can answer: its database is reachable",
    operation_id="check_ready",
    description="`callbacks` counts the callback deliveries in each status (pending, "
    "delivering, delivered, failed), for monitoring.",
    responses=[200, 503],
)
def ready() -> tuple[dict[str, Any], int]:
    try:
        db.session.execute(text("SELECT 1"))
        counts = statistics.count_callbacks_by_status(db.session)
    except SQLAlchemyError as exc:
        db.session.rollback()
        return {"ready": False, "database": "unreachable", "message": type(exc).__name__}, 503
    return {"ready": True, "database": "ok", "callbacks": counts}, 200


@bp.get("/versions")
@bp.doc(
    summary="Server version and where each API version lives (used by task-client)",
    operation_id="get_versions",
)
def versions() -> dict[str, Any]:
    from .. import __version__

    # Relative to the server root the client called, never with a deployment prefix: task-client
    # strips "/-/versions" from the URL it called and appends this path to what is left.
    return {
        "version": COMPATIBLE_VERSION,
        "server_version": __version__,
        "api_versions": {"1.0": "/api/v1/"},
    }


METRICS_ANSWERS: dict[int | str, dict[str, str | dict[str, dict[str, Any]]]] = {
    200: {"description": "Prometheus text format", "content": {"text/plain": {}}}
}


@bp.get("/metrics")
@bp.doc(
    summary="Prometheus metrics: requests, latencies, tasks by status, callbacks by state",
    operation_id="get_metrics",
    responses=METRICS_ANSWERS,
)
def metrics() -> Response:
    settings = current_app.extensions["taskman_settings"]
    if not settings.metrics_enabled:
        abort(404)
    session = db.session
    return observability.render_metrics(
        settings,
        {
            "taskmanager_tasks": (
                "Tasks by status",
                "status",
                lambda: statistics.count_tasks_by_status(session),
            ),
            "taskmanager_callback_deliveries": (
                "Callback deliveries by state",
                "state",
                lambda: statistics.count_callbacks_by_status(session),
            ),
        },
    )
