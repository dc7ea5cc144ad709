"""Pages: task templates (list, detail) and their administration."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..models import db
from ..services.reference import templates as template_service
from ..services.tasks import task_pages
from .blueprint import bp, me, permission_required
from .forms import TemplateForm, attempt, attempt_action
from .lists import render_list
from .pretty import pretty_document
from .taskviews import task_table_page


@bp.get("/templates")
@permission_required("task_read", "task_read_all")
def templates() -> str:
    return render_list(
        "task_templates/list.html",
        title="Templates",
        sorts=task_pages.TEMPLATE_SORTS,
        default_sort="label",
        fetch=lambda shown, **paging: task_pages.templates_page(
            db.session, viewer=me(), search=shown["q"], **paging
        ),
    )


@bp.get("/templates/<int:template_id>")
@permission_required("task_read", "task_read_all")
def template(template_id: int) -> str:
    subject = template_service.get_or_raise(db.session, reference=template_id)
    return render_template(
        "task_templates/detail.html",
        title=subject.label,
        subject=subject,
        content=pretty_document(subject.content),
        tasks=task_table_page(template=subject),
    )


@bp.route("/templates/new", methods=["GET", "POST"])
@permission_required("template_add")
def template_new() -> str | Response:
    form = TemplateForm()
    if form.validate_on_submit():
        ok, created = attempt(
            form,
            lambda: template_service.create(
                db.session, label=form.label.data.strip(), content=form.content.data
            ),
        )
        if ok and created is not None:
            flash(f"Template {created.label} created.", "success")
            return redirect(url_for("web.template", template_id=created.id))
    return render_template(
        "task_templates/form.html", title="New template", form=form, subject=None
    )


@bp.route("/templates/<int:template_id>/edit", methods=["GET", "POST"])
@permission_required("template_update")
def template_edit(template_id: int) -> str | Response:
    subject = template_service.get_or_raise(db.session, reference=template_id)
    form = TemplateForm(obj=subject if request.method == "GET" else None)
    if form.validate_on_submit():
        changes = {"label": form.label.data.strip(), "content": form.content.data}
        ok, _ = attempt(
            form,
            lambda: template_service.update(db.session, template=subject, changes=changes),
        )
        if ok:
            flash(f"Template {subject.label} saved.", "success")
            return redirect(url_for("web.template", template_id=subject.id))
    return render_template(
        "task_templates/form.html", title=f"Edit {subject.label}", form=form, subject=subject
    )


@bp.post("/templates/<int:template_id>/delete")
@permission_required("template_delete")
def template_delete(template_id: int) -> Response:
    subject = template_service.get_or_raise(db.session, reference=template_id)
    label = subject.label
    if attempt_action(
        lambda: template_service.delete(db.session, template=subject),
        f"Template {label} deleted.",
    ):
        return redirect(url_for("web.templates"))
    return redirect(url_for("web.template", template_id=template_id))
