"""Pages: groups (list, detail), their members and their administration."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..models import Group, db
from ..services.accounts import account_pages
from ..services.accounts import groups as group_service
from ..services.accounts import users as user_service
from .blueprint import bp, me, permission_required
from .forms import GroupForm, MemberForm, attempt, attempt_action
from .lists import render_list
from .taskviews import task_table_page


@bp.get("/groups")
def groups() -> str:
    return render_list(
        "groups/list.html",
        title="Groups",
        sorts=account_pages.GROUP_SORTS,
        default_sort="groupname",
        fetch=lambda shown, **paging: account_pages.groups_page(
            db.session, viewer=me(), search=shown["q"], **paging
        ),
    )


def _member_form(group: Group, members: list[int]) -> MemberForm:
    form = MemberForm()
    form.user.choices = [
        (str(user_id), label)
        for user_id, label in account_pages.user_choices(db.session)
        if user_id not in members
    ]
    return form


@bp.get("/groups/<int:group_id>")
def group(group_id: int) -> str:
    subject = group_service.readable_or_raise(db.session, reference=group_id, actor=me())
    members = account_pages.members_of(db.session, group=subject)
    return render_template(
        "groups/detail.html",
        title=subject.groupname,
        subject=subject,
        members=members,
        member_form=_member_form(subject, [m.id for m in members]),
        tasks=task_table_page(group=subject),
    )


@bp.route("/groups/new", methods=["GET", "POST"])
@permission_required("group_add")
def group_new() -> str | Response:
    form = GroupForm()
    if form.validate_on_submit():
        ok, created = attempt(
            form,
            lambda: group_service.create(
                db.session, groupname=form.groupname.data.strip(), name=form.name.data or None
            ),
        )
        if ok and created is not None:
            flash(f"Group {created.groupname} created. Add its members below.", "success")
            return redirect(url_for("web.group", group_id=created.id))
    return render_template("groups/form.html", title="New group", form=form, subject=None)


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
@permission_required("group_update")
def group_edit(group_id: int) -> str | Response:
    subject = group_service.get_or_raise(db.session, reference=group_id)
    form = GroupForm(obj=subject if request.method == "GET" else None)
    if form.validate_on_submit():
        changes = {"groupname": form.groupname.data.strip(), "name": form.name.data or None}
        ok, _ = attempt(
            form, lambda: group_service.update(db.session, group=subject, changes=changes)
        )
        if ok:
            flash(f"Group {subject.groupname} saved.", "success")
            return redirect(url_for("web.group", group_id=subject.id))
    return render_template(
        "groups/form.html", title=f"Edit {subject.groupname}", form=form, subject=subject
    )


@bp.post("/groups/<int:group_id>/delete")
@permission_required("group_delete")
def group_delete(group_id: int) -> Response:
    subject = group_service.get_or_raise(db.session, reference=group_id)
    name = subject.groupname
    if attempt_action(
        lambda: group_service.delete(db.session, group=subject),
        f"Group {name} deleted; its tasks are kept.",
    ):
        return redirect(url_for("web.groups"))
    return redirect(url_for("web.group", group_id=group_id))


@bp.post("/groups/<int:group_id>/members")
@permission_required("group_update")
def group_member_add(group_id: int) -> str | Response:
    subject = group_service.get_or_raise(db.session, reference=group_id)
    members = account_pages.members_of(db.session, group=subject)
    form = _member_form(subject, [m.id for m in members])
    if form.validate_on_submit():
        newcomer = user_service.get_or_raise(db.session, reference=int(form.user.data))
        attempt_action(
            lambda: group_service.add_member(db.session, group=subject, user=newcomer),
            f"{newcomer.username} is now a member of {subject.groupname}.",
        )
    else:
        flash("Choose a user to add.", "error")
    return redirect(url_for("web.group", group_id=subject.id))


@bp.post("/groups/<int:group_id>/members/<int:user_id>/remove")
@permission_required("group_update")
def group_member_remove(group_id: int, user_id: int) -> Response:
    subject = group_service.get_or_raise(db.session, reference=group_id)
    leaver = user_service.get_or_raise(db.session, reference=user_id)
    attempt_action(
        lambda: group_service.remove_member(db.session, group=subject, user=leaver),
        f"{leaver.username} is no longer a member of {subject.groupname}.",
    )
    return redirect(url_for("web.group", group_id=subject.id))
