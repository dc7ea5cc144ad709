"""Pages: users (list, detail) and their administration."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..models import User, db
from ..services.accounts import account_pages, permissions, roles
from ..services.accounts import users as user_service
from .blueprint import bp, can, me, permission_required
from .forms import UserForm, WeightForm, attempt, attempt_action
from .lists import render_list
from .taskviews import task_table_page

ACTIVE_CHOICES = {"yes": True, "no": False}


@bp.get("/users")
@permission_required("user_read_all")
def users() -> str:
    return render_list(
        "users/list.html",
        title="Users",
        sorts=account_pages.USER_SORTS,
        default_sort="username",
        filters=("role", "active"),
        fetch=lambda shown, **paging: account_pages.users_page(
            db.session,
            search=shown["q"],
            role=shown["role"] or None,
            active=ACTIVE_CHOICES.get(shown["active"]),
            **paging,
        ),
        role_choices=[(name, name) for name in account_pages.role_names(db.session)],
    )


def _readable(user_id: int) -> User:
    return user_service.readable_or_raise(db.session, reference=user_id, actor=me())


@bp.get("/users/<int:user_id>")
def user(user_id: int) -> str:
    subject = _readable(user_id)
    tasks = task_table_page(owner=subject)
    groups = account_pages.groups_of(db.session, user=subject)
    weight_form = WeightForm(assignment_weight=subject.assignment_weight)
    return render_template(
        "users/detail.html",
        title=subject.username,
        subject=subject,
        groups=groups,
        tasks=tasks,
        weight_form=weight_form,
        is_me=subject.id == me().id,
    )


def _check_password_length(password: str | None) -> None:
    minimum = int(current_app.config["SECURITY_PASSWORD_LENGTH_MIN"])
    user_service.check_password_length(password, minimum=minimum)


def _role_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in account_pages.role_names(db.session)]


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required("user_add")
def user_new() -> str | Response:
    form = UserForm()
    form.roles.choices = _role_choices()
    if request.method == "GET":
        form.roles.data = [permissions.NEW_USER_ROLE]
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors = ["Give the new user a password."]
        else:
            granted = form.roles.data if can("roles_manage") else []

            def create() -> User:
                _check_password_length(form.password.data)
                return user_service.create(
                    db.session,
                    username=form.username.data.strip(),
                    password=form.password.data,
                    email=form.email.data.strip(),
                    name=(form.name.data or "").strip() or None,
                    active=form.active.data,
                    assignment_weight=form.assignment_weight.data,
                    roles=granted,
                )

            ok, created = attempt(form, create)
            if ok and created is not None:
                flash(f"User {created.username} created.", "success")
                return redirect(url_for("web.user", user_id=created.id))
    return render_template("users/form.html", title="New user", form=form, subject=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@permission_required("user_update_all")
def user_edit(user_id: int) -> str | Response:
    subject = user_service.get_or_raise(db.session, reference=user_id)
    form = UserForm(obj=subject if request.method == "GET" else None)
    form.roles.choices = _role_choices()
    if request.method == "GET":
        form.password.data = ""
        form.roles.data = [role.name for role in subject.roles]
    if form.validate_on_submit():
        changes: dict[str, Any] = {
            "username": form.username.data.strip(),
            "name": (form.name.data or "").strip() or None,
            "email": form.email.data.strip(),
            "active": form.active.data,
            "assignment_weight": form.assignment_weight.data,
        }
        if form.password.data:
            changes["password"] = form.password.data

        def change() -> User:
            _check_password_length(changes.get("password"))
            user_service.update(db.session, user=subject, changes=changes, actor=me())
            if can("roles_manage"):
                wanted = [
                    roles.get_or_raise(db.session, reference=name) for name in form.roles.data
                ]
                user_service.replace_roles(db.session, user=subject, new_roles=wanted)
            return subject

        ok, _ = attempt(form, change)
        if ok:
            flash(f"User {subject.username} saved.", "success")
            return redirect(url_for("web.user", user_id=subject.id))
    return render_template(
        "users/form.html", title=f"Edit {subject.username}", form=form, subject=subject
    )


@bp.post("/users/<int:user_id>/weight")
@permission_required("user_update_assignment_weight", "user_update_all")
def user_weight(user_id: int) -> Response:
    subject = user_service.get_or_raise(db.session, reference=user_id)
    form = WeightForm()
    if not form.validate_on_submit():
        flash("The assignment weight must be a number, zero or more.", "error")
    else:
        attempt_action(
            lambda: user_service.update(
                db.session,
                user=subject,
                changes={"assignment_weight": form.assignment_weight.data},
                actor=me(),
            ),
            f"Assignment weight of {subject.username} set to {form.assignment_weight.data:g}.",
        )
    return redirect(url_for("web.user", user_id=subject.id))


@bp.post("/users/<int:user_id>/deactivate")
@permission_required("user_delete")
def user_deactivate(user_id: int) -> Response:
    subject = user_service.get_or_raise(db.session, reference=user_id)
    attempt_action(
        lambda: user_service.deactivate(db.session, user=subject),
        f"{subject.username} is deactivated: they can no longer log in or receive tasks.",
    )
    return redirect(url_for("web.user", user_id=subject.id))
