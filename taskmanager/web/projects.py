"""Pages: a project's progress (status counts, done per day, tasks left, the estimate, and the
per-annotator table)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template

from ..models import db
from ..services.tasks import timeline
from .blueprint import bp, me, permission_required
from .dashboard import ordered_statuses
from .progress import annotator_table


def _chart_data(shown: timeline.Timeline) -> dict[str, Any]:
    return {
        "days": [day.isoformat() for day in shown.days],
        "done": shown.done,
        "left": shown.left,
    }


@bp.get("/projects/<project>")
@permission_required("task_read", "task_read_all")
def project(project: str) -> str:
    shown = timeline.project_timeline(db.session, viewer=me(), project=project)
    if shown is None:
        abort(404, f"No task of yours is in a project {project!r}.")
    return render_template(
        "projects/detail.html",
        title=project,
        project=project,
        timeline=shown,
        statuses=ordered_statuses(shown.progress.counts),
        chart=_chart_data(shown),
        window_days=timeline.WINDOW_DAYS,
        rate_days=timeline.RATE_DAYS,
        people=annotator_table(project=project),
    )
