"""The dashboard: progress per project, template and task group, one's open tasks, activity."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from ..models import TaskStatus, db
from ..services.dispensing import claims
from ..services.kit.errors import DomainError
from ..services.taskgroups import progress as taskgroup_progress
from ..services.tasks import activity, home, timeline
from ..services.tasks import dashboard as task_dashboard
from .blueprint import bp, me, permission_required
from .progress import dashboard_progress
from .taskviews import lock_timeout, task_table_page

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
    today = timeline.today_utc()
    counted = task_dashboard.summary(
        db.session, viewer=viewer, done_since=timeline.rate_start(today)
    )
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
        activity=activity.recent(db.session, viewer=viewer),
        mine=task_table_page(
            owner=viewer,
            sort="id",
            total=task_dashboard.own_open_total(counted, viewer=viewer),
        ),
        **dashboard_progress(counted.projects, today=today),
        **annotator_home(),
    )


def annotator_home() -> dict[str, Any]:
    """The "Your open tasks" section: tasks to continue, and what one finished lately."""
    viewer = me()
    return {
        "held": home.held_tasks(db.session, user=viewer, timeout=lock_timeout()),
        "done_counts": home.done_counts(db.session, user=viewer),
    }


@bp.post("/claim-next")
@permission_required("task_read", "task_read_all")
def claim_next() -> Response:
    """The web's "Claim next": the same claim as the API's POST /tasks/next."""
    try:
        claimed = claims.claim_next(db.session, user=me(), timeout=lock_timeout())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("web.dashboard"))
    if claimed is None:
        flash("Nothing is left to claim: every task you may do is locked or finished.", "info")
        return redirect(url_for("web.dashboard"))
    flash(f"Task {claimed.id} is yours: it is locked to you.", "success")
    return redirect(url_for("web.task", task_id=claimed.id))
