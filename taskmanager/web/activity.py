"""Page: the activity feed, one line per operation, narrowed to a project or to a user."""

from __future__ import annotations

from flask import flash, render_template, request

from ..models import db
from ..services.accounts import users as user_service
from ..services.tasks import activity, details, history
from .blueprint import bp, can, me

SHOWN = 100


@bp.get("/activity", endpoint="activity")
def activity_page() -> str:
    project = request.args.get("project", "").strip()
    username = request.args.get("user", "").strip()
    actor = user_service.get_by_reference(db.session, reference=username) if username else None
    operations: list[activity.Operation] = []
    if username and actor is None:
        # Who exists is for those who may list users; to others it is simply no activity.
        if can("user_read_all"):
            flash(f"User: nobody is called {username!r}.", "error")
    else:
        operations = activity.recent(
            db.session,
            viewer=me(),
            limit=SHOWN,
            filters=activity.Filters(project=project or None, actor=actor),
        )
    return render_template(
        "activity.html",
        title="Activity",
        operations=operations,
        project=project,
        username=username,
        shown=SHOWN,
    )


@bp.app_template_filter("history_sentence")
def history_sentence(entry: details.HistoryEntry) -> str:
    """A task's history row as a sentence (the task page's history)."""
    return history.describe(entry.action, entry.detail, entry.actor_username)
