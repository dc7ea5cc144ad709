"""Pages: meta variables ($LABEL in task content and callback URLs), their values and history."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from ..models import db
from ..services.metadata import meta as meta_service
from .blueprint import bp, permission_required, require
from .forms import MetaForm, MetaValueForm, attempt
from .lists import Pager

HISTORY_SHOWN = 50


@bp.get("/meta")
@permission_required("meta_read_all")
def meta() -> str:
    pager = Pager.from_request()
    page = meta_service.list_page(db.session, offset=pager.offset, limit=pager.per_page)
    pager.show(page)
    return render_template("meta/list.html", title="Meta variables", rows=page.items, pager=pager)


@bp.route("/meta/new", methods=["GET", "POST"])
@permission_required("meta_add")
def meta_new() -> str | Response:
    form = MetaForm()
    if form.validate_on_submit():
        ok, created = attempt(
            form,
            lambda: meta_service.create(
                db.session, label=form.label.data.strip(), value=form.value.data
            ),
        )
        if ok and created is not None:
            flash(f"Meta variable {created.label} created.", "success")
            return redirect(url_for("web.meta_variable", meta_id=created.id))
    return render_template("meta/form.html", title="New meta variable", form=form)


@bp.route("/meta/<int:meta_id>", methods=["GET", "POST"])
@permission_required("meta_read_all")
def meta_variable(meta_id: int) -> str | Response:
    subject = meta_service.get_or_raise(db.session, reference=meta_id)
    form = MetaValueForm(value=subject.value)
    if form.is_submitted():
        require("meta_update")
        if form.validate():
            ok, _ = attempt(
                form,
                lambda: meta_service.update(db.session, meta=subject, value=form.value.data),
            )
            if ok:
                flash(f"{subject.label} is now {subject.value!r}.", "success")
                return redirect(url_for("web.meta_variable", meta_id=subject.id))
    history = sorted(subject.history, key=lambda entry: entry.id, reverse=True)[:HISTORY_SHOWN]
    return render_template(
        "meta/detail.html", title=subject.label, subject=subject, form=form, history=history
    )
