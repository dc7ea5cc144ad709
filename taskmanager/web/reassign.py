"""Page: give all open tasks of one user to another user or to a group, in one action."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..models import db
from ..services.accounts import account_pages
from ..services.accounts import groups as group_service
from ..services.accounts import users as user_service
from ..services.dispensing import reassignment
from ..services.kit import references
from ..wording import counted
from .blueprint import bp, me, permission_required
from .forms import ReassignForm, attempt
from .taskviews import lock_timeout

NOBODY = ("", "—")


@bp.route("/reassign", methods=["GET", "POST"])
@permission_required(*reassignment.REQUIRED)
def reassign() -> str | Response:
    form = ReassignForm()
    everyone = [
        (str(i), label) for i, label in account_pages.user_choices(db.session, active_only=False)
    ]
    form.from_user.choices = [NOBODY, *everyone]
    form.to_user.choices = [
        NOBODY,
        *((str(i), label) for i, label in account_pages.user_choices(db.session)),
    ]
    form.to_group.choices = [
        NOBODY,
        *((str(i), name) for i, name in account_pages.group_choices(db.session)),
    ]
    if request.method == "GET" and request.args.get("from_user", "").isdigit():
        form.from_user.data = request.args["from_user"]
    source_id = references.as_id(form.from_user.data or "")
    source = (
        user_service.get_by_reference(db.session, reference=source_id)
        if source_id is not None
        else None
    )
    if form.validate_on_submit() and source is not None:
        to_user = (
            user_service.get_or_raise(db.session, reference=int(form.to_user.data), field="to_user")
            if form.to_user.data
            else None
        )
        to_group = (
            group_service.get_or_raise(
                db.session, reference=int(form.to_group.data), field="to_group"
            )
            if form.to_group.data
            else None
        )
        target = to_user.username if to_user is not None else f"group {to_group.groupname}"  # type: ignore[union-attr]
        ok, done = attempt(
            form,
            lambda: reassignment.reassign_open(
                db.session,
                from_user=source,
                to_user=to_user,
                to_group=to_group,
                actor=me(),
                release_locks=form.release_locks.data,
                lock_timeout=lock_timeout(),
            ),
        )
        if ok and done is not None:
            moved = counted(len(done.task_ids), "open task")
            message = f"{moved} of {source.username} moved to {target}."
            if done.released:
                message += f" {counted(len(done.released), 'lock')} released."
            flash(message, "success")
            return redirect(url_for("web.user", user_id=source.id))
    pending = len(reassignment.open_task_ids(db.session, user=source)) if source else None
    return render_template(
        "reassign.html", title="Reassign open tasks", form=form, source=source, pending=pending
    )
