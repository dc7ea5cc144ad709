"""Page: give all open tasks of one user to another user or to a group, in one action, and
optionally off-board them (weight 0, out of their groups, deactivated) in the same step."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response
from wtforms import BooleanField

from ..models import User, db
from ..services.accounts import account_pages
from ..services.accounts import groups as group_service
from ..services.accounts import users as user_service
from ..services.dispensing import reassignment
from ..services.kit import references
from .blueprint import bp, can, me, permission_required
from .forms import ReassignForm, attempt
from .taskviews import lock_timeout

NOBODY = ("", "—")


class OffboardForm(ReassignForm):
    zero_weight = BooleanField("Set their assignment weight to 0 (automatic assignment skips them)")
    leave_groups = BooleanField("Remove them from all their groups")
    deactivate = BooleanField("Deactivate the account (they can no longer sign in)")


def _form() -> OffboardForm:
    form = OffboardForm()
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
    return form


def _steps(form: OffboardForm) -> reassignment.Offboarding:
    return reassignment.Offboarding(
        zero_weight=bool(form.zero_weight.data),
        leave_groups=bool(form.leave_groups.data),
        deactivate=bool(form.deactivate.data),
    )


def _offboard(form: OffboardForm, source: User) -> reassignment.Offboarded | None:
    to_user = (
        user_service.get_or_raise(db.session, reference=int(form.to_user.data), field="to_user")
        if form.to_user.data
        else None
    )
    to_group = (
        group_service.get_or_raise(db.session, reference=int(form.to_group.data), field="to_group")
        if form.to_group.data
        else None
    )
    _ok, done = attempt(
        form,
        lambda: reassignment.offboard(
            db.session,
            from_user=source,
            to_user=to_user,
            to_group=to_group,
            actor=me(),
            steps=_steps(form),
            release_locks=form.release_locks.data,
            lock_timeout=lock_timeout(),
        ),
    )
    return done


@bp.route("/reassign", methods=["GET", "POST"])
@permission_required(*reassignment.REQUIRED)
def reassign() -> str | Response:
    form = _form()
    if request.method == "GET" and request.args.get("from_user", "").isdigit():
        form.from_user.data = request.args["from_user"]
    source_id = references.as_id(form.from_user.data or "")
    source = (
        user_service.get_by_reference(db.session, reference=source_id)
        if source_id is not None
        else None
    )
    if form.validate_on_submit() and source is not None:
        done = _offboard(form, source)
        if done is not None:
            message = done.sentence + "."
            if done.moved.released:
                released = len(done.moved.released)
                message += f" Released {released} lock{'' if released == 1 else 's'}."
            flash(message, "success")
            return redirect(url_for("web.user", user_id=source.id))
    return render_template(
        "reassign.html",
        title="Reassign open tasks",
        form=form,
        source=source,
        preview=reassignment.preview(db.session, user=source) if source else None,
        may=_may_steps(),
    )


def _may_steps() -> dict[str, bool]:
    """Which off-boarding steps the signed-in user may take (the service checks again)."""
    return {step: can(*needed) for step, needed in reassignment.STEP_PERMISSIONS.items()}
