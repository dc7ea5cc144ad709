"""The dashboard: progress per project, template and task group, one's open tasks, activity."""

from __future__ import annotations

from collections.abc import Iterable

from flask import render_template

from ..models import TaskStatus, db
from ..services.taskgroups import progress as taskgroup_progress
from ..services.tasks import dashboard as task_dashboard
from .blueprint import bp, me
from .progress import dashboard_progress
from .taskviews import task_table_page

# The statuses every server uses, in the order pages show them.
KNOWN_STATUSES = tuple(status.value for status in TaskStatus)
TASKGROUPS_SHOWN = 10


def ordered_statuses(statuses: Iterable[str]) -> list[str]:
    """The known statuses first; ones clients invented follow alphabetically."""
    seen = set(statuses)
    return [s for s in KNOWN_STATUSES if s in seen] + sorted(seen - set(KNOWN_STATUSES))


@bp.app_template_global()
def status_class(status: str) -> str:
    """The CSS class of a status: its own for the known ones, `other` for the rest."""
    return f"status-{status}" if status in KNOWN_STATUSES else "status-other"


@bp.get("/")
def dashboard() -> str:
    viewer = me()
    counted = task_dashboard.summary(db.session, viewer=viewer)
    return render_template(
        "dashboard.html",
        title="Dashboard",
        totals=counted.totals,
        statuses=ordered_statuses(counted.totals),
        projects=counted.projects,
        templates=counted.templates,
        taskgroups=taskgroup_progress.newest_taskgroups(
            db.session, viewer=viewer, limit=TASKGROUPS_SHOWN
        ),
        activity=task_dashboard.recent_activity(db.session, viewer=viewer),
        mine=task_table_page(owner=viewer, sort="id"),
        **dashboard_progress(counted.projects),
    )
