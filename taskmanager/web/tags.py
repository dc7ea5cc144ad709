"""Pages: tags (list, detail) and their administration."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..models import db
from ..services.reference import tags as tag_service
from ..services.tasks import task_pages
from .blueprint import bp, me, permission_required
from .forms import TagForm, attempt, attempt_action
from .lists import render_list
from .taskviews import task_table_page


@bp.get("/tags")
def tags() -> str:
    return render_list(
        "tags/list.html",
        title="Tags",
        sorts=task_pages.TAG_SORTS,
        default_sort="name",
        fetch=lambda shown, **paging: task_pages.tags_page(
            db.session, viewer=me(), search=shown["q"], **paging
        ),
    )


@bp.get("/tags/<int:tag_id>")
def tag(tag_id: int) -> str:
    subject = tag_service.get_or_raise(db.session, reference=tag_id)
    return render_template(
        "tags/detail.html",
        title=subject.name,
        subject=subject,
        tasks=task_table_page(tag=subject),
    )


@bp.route("/tags/new", methods=["GET", "POST"])
@permission_required("tag_add")
def tag_new() -> str | Response:
    form = TagForm()
    if form.validate_on_submit():
        ok, created = attempt(
            form, lambda: tag_service.create(db.session, name=form.name.data.strip())
        )
        if ok and created is not None:
            flash(f"Tag {created.name} created.", "success")
            return redirect(url_for("web.tag", tag_id=created.id))
    return render_template("tags/form.html", title="New tag", form=form, subject=None)


@bp.route("/tags/<int:tag_id>/edit", methods=["GET", "POST"])
@permission_required("tag_update")
def tag_edit(tag_id: int) -> str | Response:
    subject = tag_service.get_or_raise(db.session, reference=tag_id)
    form = TagForm(obj=subject if request.method == "GET" else None)
    if form.validate_on_submit():
        ok, _ = attempt(
            form, lambda: tag_service.update(db.session, tag=subject, name=form.name.data.strip())
        )
        if ok:
            flash(f"Tag renamed to {subject.name}.", "success")
            return redirect(url_for("web.tag", tag_id=subject.id))
    return render_template(
        "tags/form.html", title=f"Rename {subject.name}", form=form, subject=subject
    )


@bp.post("/tags/<int:tag_id>/delete")
@permission_required("tag_delete")
def tag_delete(tag_id: int) -> Response:
    subject = tag_service.get_or_raise(db.session, reference=tag_id)
    name = subject.name
    if attempt_action(
        lambda: tag_service.delete(db.session, tag=subject),
        f"Tag {name} deleted and removed from its tasks.",
    ):
        return redirect(url_for("web.tags"))
    return redirect(url_for("web.tag", tag_id=tag_id))
