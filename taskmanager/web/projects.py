"""Pages: a project's progress (status counts, done per day, tasks left, the estimate, and the
per-annotator table), and its policy (who gets which of its tasks)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for

from ..models import db
from ..services.tasks import policy, timeline
from .blueprint import bp, me, permission_required
from .dashboard import ordered_statuses
from .forms import PolicyForm, attempt
from .progress import annotator_table


def _chart_data(shown: timeline.Timeline) -> dict[str, Any]:
    return {
        "days": [day.isoformat() for day in shown.days],
        "done": shown.done,
        "left": shown.left,
    }


def _policy_form(current: policy.Policy) -> PolicyForm | None:
    """The form that changes the policy, for those who may (filled from it when first shown)."""
    if not policy.may_set(me()):
        return None
    # A POST's fields take the place of these values.
    form = PolicyForm(data=current.as_dict())
    form.balance_by.choices = [(name, name) for name in policy.BALANCES]
    return form


def _timeline_or_404(project: str) -> timeline.Timeline:
    shown = timeline.project_timeline(db.session, viewer=me(), project=project)
    if shown is None:
        abort(404, f"No task of yours is in a project {project!r}.")
    return shown


def _page(
    shown: timeline.Timeline,
    project: str,
    current: policy.Policy,
    form: PolicyForm | None,
) -> str:
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
        policy=current,
        policy_form=form,
    )


@bp.get("/projects/<project>")
@permission_required("task_read", "task_read_all")
def project(project: str) -> str:
    shown = _timeline_or_404(project)
    current = policy.get(db.session, project)
    return _page(shown, project, current, _policy_form(current))


@bp.post("/projects/<project>/policy")
@permission_required("task_read", "task_read_all")
def project_policy(project: str) -> Any:
    """Change the project's policy; a refused value is shown next to its field."""
    shown = _timeline_or_404(project)
    current = policy.get(db.session, project)
    form = _policy_form(current)
    if form is None:
        abort(403, "Only admins and superusers may change a project's policy.")
    if form.validate_on_submit():
        wanted = form.values()
        ok, _ = attempt(form, lambda: policy.put(db.session, project, wanted, me()))
        if ok:
            flash(f"The policy of {project} is saved.", "success")
            return redirect(url_for("web.project", project=project, _anchor="policy"))
    # The page shows what the user sent, with the reasons it was refused (200, as every form
    # page of the web UI answers).
    return _page(shown, project, current, form)
