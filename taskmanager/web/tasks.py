"""Pages: the task list (filters, sorting, pages), a task, editing it, and its lock."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..models import Task, db
from ..services.accounts import account_pages
from ..services.accounts import users as user_service
from ..services.callbacks import outbox as callbacks
from ..services.dispensing import locks
from ..services.flows import task_changes
from ..services.kit import references
from ..services.metadata import rendering
from ..services.tasks import details, task_pages, visibility
from .blueprint import bp, can, me, permission_required
from .dashboard import KNOWN_STATUSES, ordered_statuses
from .forms import LockForm, TaskForm, attempt, attempt_action
from .lists import Pager, Sorter
from .pretty import pretty_document
from .taskviews import held_locks, lock_timeout

HISTORY_SHOWN = 100
CALLBACKS_SHOWN = 20
# The pseudo-status that lists every task not yet done or aborted.
OPEN = "open"
STATUS_EDIT = ("task_update_status", "task_update_status_all", "task_update_all")
ASSIGN_EDIT = ("task_update_user", "task_update_all")


@bp.get("/tasks")
@permission_required("task_read", "task_read_all")
def tasks() -> str | Response:
    viewer = me()
    search = request.args.get("q", "").strip().lstrip("#")
    task_number = references.as_id(search) if search.isdigit() else None
    if task_number is not None:
        return redirect(url_for("web.task", task_id=task_number))
    filters = {
        "status": request.args.get("status", ""),
        "project": request.args.get("project", ""),
        "template": request.args.get("template", ""),
        "user": request.args.get("user", "") if visibility.reads_all(viewer) else "",
        "tag": request.args.get("tag", ""),
    }
    pager = Pager.from_request()
    sorter = Sorter.from_request(task_pages.TASK_SORTS, "id")
    status = filters["status"]
    page = task_pages.tasks_page(
        db.session,
        viewer=viewer,
        project=filters["project"] or None,
        template=filters["template"] or None,
        user=filters["user"] or None,
        status=status if status and status != OPEN else None,
        open_only=status == OPEN,
        tags=[filters["tag"]] if filters["tag"] else (),
        sort=sorter.value,
        offset=pager.offset,
        limit=pager.per_page,
    )
    pager.show(page)
    statuses = ordered_statuses(task_pages.statuses(db.session))
    return render_template(
        "tasks/list.html",
        title="Tasks",
        rows=page.items,
        held=held_locks(page.items),
        pager=pager,
        sorter=sorter,
        filters=filters,
        choices={
            "status": [(OPEN, "open (not done or aborted)")] + [(s, s) for s in statuses],
            "project": _pairs(task_pages.projects(db.session)),
            "template": _pairs(task_pages.template_labels(db.session)),
            "user": _pairs(task_pages.usernames(db.session))
            if visibility.reads_all(viewer)
            else [],
            "tag": _pairs(task_pages.tag_names(db.session)),
        },
    )


def _pairs(values: list[str]) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


def _visible(task_id: int) -> Task:
    return visibility.get_visible_or_raise(db.session, task_id=task_id, user=me())


@bp.get("/tasks/<int:task_id>")
@permission_required("task_read", "task_read_all")
def task(task_id: int) -> str:
    subject = _visible(task_id)
    values = rendering.current_values(db.session)
    content = rendering.render(subject.raw_content, values)
    history, history_total = details.list_history(
        db.session, task=subject, offset=0, limit=HISTORY_SHOWN
    )
    deliveries, deliveries_total = callbacks.list_deliveries(
        db.session, task_id=subject.id, limit=CALLBACKS_SHOWN
    )
    holder = locks.holder(db.session, task=subject, timeout=lock_timeout())
    lock_form = LockForm()
    if locks.may_lock_for_others(me()):
        lock_form.user.choices = [
            (str(user_id), label) for user_id, label in account_pages.user_choices(db.session)
        ]
        if holder is not None:
            lock_form.user.data = str(holder.id)
    return render_template(
        "tasks/detail.html",
        title=f"Task {subject.id}",
        subject=subject,
        content=pretty_document(content),
        raw_differs=content != subject.raw_content,
        raw_content=pretty_document(subject.raw_content),
        callback_url=rendering.render_optional(subject.raw_callback_url, values),
        callback_content=pretty_document(subject.callback_content),
        holder=holder,
        may_release=holder is not None
        and (holder.id == me().id or locks.may_lock_for_others(me())),
        may_move=locks.may_lock_for_others(me()),
        lock_form=lock_form,
        history=list(reversed(history)),
        history_total=history_total,
        deliveries=deliveries,
        deliveries_total=deliveries_total,
        may_edit=can(*STATUS_EDIT, *ASSIGN_EDIT),
    )


def _task_form(subject: Task) -> TaskForm:
    form = TaskForm()
    form.users.choices = account_pages.user_choices(db.session)
    form.groups.choices = account_pages.group_choices(db.session)
    if request.method == "GET":
        form.status.data = subject.status
        form.users.data = [user.id for user in subject.users]
        form.groups.data = [group.id for group in subject.groups]
        form.tags.data = ", ".join(tag.name for tag in subject.tags)
    # Deactivated users still assigned stay choosable, so saving does not drop them silently.
    known = {user_id for user_id, _ in form.users.choices}
    form.users.choices += [(u.id, u.username) for u in subject.users if u.id not in known]
    return form


def _assignment_changes(form: TaskForm, subject: Task) -> dict[str, list[int]]:
    changes: dict[str, list[int]] = {}
    if sorted(form.users.data or []) != sorted(u.id for u in subject.users):
        changes["users"] = list(form.users.data or [])
    if sorted(form.groups.data or []) != sorted(g.id for g in subject.groups):
        changes["groups"] = list(form.groups.data or [])
    return changes


def _changes(form: TaskForm, subject: Task, editable: dict[str, bool]) -> dict[str, Any]:
    """What the edit form changes of the task, among the fields the caller may edit."""
    changes: dict[str, Any] = {}
    if editable["status"] and form.status.data.strip() != subject.status:
        changes["status"] = form.status.data.strip()
    if editable["assignment"]:
        changes.update(_assignment_changes(form, subject))
    if editable["tags"]:
        names = [name.strip() for name in (form.tags.data or "").split(",") if name.strip()]
        if names != [tag.name for tag in subject.tags]:
            changes["tags"] = names
    return changes


@bp.route("/tasks/<int:task_id>/edit", methods=["GET", "POST"])
@permission_required(*STATUS_EDIT, *ASSIGN_EDIT)
def task_edit(task_id: int) -> str | Response:
    subject = _visible(task_id)
    form = _task_form(subject)
    editable = {
        "status": can(*STATUS_EDIT),
        "assignment": can(*ASSIGN_EDIT),
        "tags": can("task_update_all"),
    }
    if form.validate_on_submit():
        changes = _changes(form, subject, editable)
        if not changes:
            flash("Nothing changed.", "info")
            return redirect(url_for("web.task", task_id=subject.id))
        ok, _ = attempt(
            form,
            lambda: task_changes.update(
                db.session,
                task=subject,
                changes=changes,
                actor=me(),
                done_releases_lock=current_app.extensions["taskman_settings"].done_releases_lock,
            ),
        )
        if ok:
            flash(f"Task {subject.id} saved.", "success")
            return redirect(url_for("web.task", task_id=subject.id))
    return render_template(
        "tasks/edit.html",
        title=f"Edit task {subject.id}",
        subject=subject,
        form=form,
        editable=editable,
        known_statuses=KNOWN_STATUSES,
    )


@bp.post("/tasks/<int:task_id>/lock/release")
@permission_required("task_read", "task_read_all")
def task_lock_release(task_id: int) -> Response:
    subject = _visible(task_id)
    attempt_action(
        lambda: locks.release(db.session, task=subject, actor=me(), timeout=lock_timeout()),
        f"The lock of task {subject.id} is released.",
    )
    return redirect(url_for("web.task", task_id=subject.id))


@bp.post("/tasks/<int:task_id>/lock")
@permission_required("task_read", "task_read_all")
def task_lock(task_id: int) -> Response:
    """Take the lock (no user named), or move it to the user named (lock-all rights)."""
    subject = _visible(task_id)
    target = None
    chosen = request.form.get("user", "")
    if chosen:
        user_id = references.as_id(chosen) if chosen.isdigit() else None
        if user_id is None:
            abort(400, "Choose a user to move the lock to.")
        target = user_service.get_or_raise(db.session, reference=user_id)
    holder_name = target.username if target is not None else me().username
    attempt_action(
        lambda: locks.lock(
            db.session, task=subject, actor=me(), target=target, timeout=lock_timeout()
        ),
        f"Task {subject.id} is now locked by {holder_name}.",
    )
    return redirect(url_for("web.task", task_id=subject.id))
