"""Pages: the task list (filters, sorting, pages), a task, editing it, and its lock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..models import CLOSED_STATUSES, Task, TaskStatus, User, db
from ..services.accounts import account_pages
from ..services.accounts import users as user_service
from ..services.callbacks import outbox as callbacks
from ..services.dispensing import locks
from ..services.flows import bulk_actions, task_changes
from ..services.kit import paging, references
from ..services.kit.errors import DomainError, InvalidInput
from ..services.metadata import rendering
from ..services.tasks import details, editing, task_pages, visibility
from ..services.tasks import lists as task_lists
from .blueprint import bp, can, me, permission_required
from .dashboard import ordered_statuses
from .forms import LockForm, TaskForm, attempt, attempt_action
from .lists import Pager, Sorter
from .pretty import pretty_document
from .taskviews import held_locks, lock_timeout

HISTORY_SHOWN = 100
CALLBACKS_SHOWN = 20
# The pseudo-status that lists every task not yet done or aborted.
OPEN = "open"
STATUS_EDIT = ("task_update_status", "task_update_status_all", "task_update_all")
# Who may set a task's users and groups, and its subject, series, priority, due date and effort.
ASSIGN_EDIT = tuple(sorted(editing.MANAGING_PERMISSIONS))
SCHEDULING_FIELDS = ("subject", "series", "priority", "due", "effort")


# Rows per page the task list offers (each within the task lists' cap).
TASK_PAGE_SIZES = tuple(n for n in (25, 50, 100, 250) if n <= paging.MAX_TASK_PAGE_SIZE)
# The filters of the task list, read from the query string.
LIST_FILTERS = (
    "text",
    "tracking",
    "match",
    "status",
    "project",
    "template",
    "user",
    "done_by",
    "tag",
    "locked",
    "subject",
    "series",
    "overdue",
)
YES_NO = (("yes", "yes"), ("no", "no"))


def _list_filters(viewer: User) -> dict[str, str]:
    filters = {name: request.args.get(name, "").strip() for name in LIST_FILTERS}
    if not visibility.reads_all(viewer):
        filters["user"] = ""
    if filters["match"] not in ("", "prefix"):
        filters["match"] = ""
    if filters["locked"] not in ("", "yes", "no"):
        flash("Locked must be yes or no.", "error")
        filters["locked"] = ""
    if filters["overdue"] not in ("", "yes"):
        filters["overdue"] = ""
    return filters


def _lock_conditions(locked: str) -> list[Any]:
    """ "Locked" as the lease rule of dispensing.locks says it (a lapsed lock is free)."""
    if not locked:
        return []
    free = locks.free_condition(lock_timeout())
    return [free] if locked == "no" else [~free]


@bp.get("/tasks")
@permission_required("task_read", "task_read_all")
def tasks() -> str | Response:
    viewer = me()
    if request.args.get("q", "").strip():  # the old "go to task" box, in bookmarks
        return redirect(url_for("web.task_go", q=request.args["q"]))
    filters = _list_filters(viewer)
    pager = Pager.from_request(TASK_PAGE_SIZES)
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
        search=task_pages.TaskSearch(
            tracking_id=filters["tracking"] or None,
            tracking_prefix=filters["match"] == "prefix",
            text=filters["text"] or None,
            done_by=filters["done_by"] or None,
        ),
        conditions=_lock_conditions(filters["locked"])
        + task_lists.scheduling_conditions(
            subject=filters["subject"] or None,
            series=filters["series"] or None,
            overdue=filters["overdue"] == "yes",
        ),
        sort=sorter.value,
        offset=pager.offset,
        limit=pager.per_page,
    )
    pager.show(page)
    return render_template(
        "tasks/list.html",
        title="Tasks",
        rows=page.items,
        held=held_locks(page.items),
        pager=pager,
        sorter=sorter,
        filters=filters,
        shown_filters={k: v for k, v in filters.items() if k != "match"},
        page_sizes=TASK_PAGE_SIZES,
        choices=_list_choices(viewer),
        bulk=_bulk_choices(),
    )


def _list_choices(viewer: User) -> dict[str, list[tuple[str, str]]]:
    statuses = ordered_statuses(task_pages.statuses(db.session))
    everyone = _pairs(task_pages.usernames(db.session)) if visibility.reads_all(viewer) else []
    return {
        "status": [(OPEN, "open (not done or aborted)")] + [(s, s) for s in statuses],
        "project": _pairs(task_pages.projects(db.session)),
        "template": _pairs(task_pages.template_labels(db.session)),
        "user": everyone,
        "done_by": everyone or [(viewer.username, viewer.username)],
        "tag": _pairs(task_pages.tag_names(db.session)),
        "locked": list(YES_NO),
    }


def _bulk_choices() -> dict[str, Any]:
    """The bulk actions the signed-in user's role offers, and the values they choose from."""
    offered: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    if can(*ASSIGN_EDIT):
        offered += [
            ("assign_user", "Assign to user"),
            ("assign_group", "Assign to group"),
            ("distribute_group", "Distribute among a group's members"),
        ]
        values["user"] = account_pages.user_choices(db.session)
        values["group"] = account_pages.group_choices(db.session)
    if can(*STATUS_EDIT):
        offered.append(("status", "Set status"))
        values["status"] = task_pages.status_choices(db.session)
    if can("task_update_all"):
        offered += [("add_tag", "Add tag"), ("remove_tag", "Remove tag")]
    offered.append(("release_lock", "Release lock"))
    if can("task_delete"):
        offered.append(("delete", "Delete"))
    return {"actions": offered, **values}


@bp.get("/tasks/go")
@permission_required("task_read", "task_read_all")
def task_go() -> Response:
    """Go to a task by id or tracking id: the task, the tasks sharing it, or the list saying no."""
    wanted = request.args.get("q", "").strip()
    found = task_pages.locate(db.session, viewer=me(), reference=wanted) if wanted else []
    if len(found) == 1:
        return redirect(url_for("web.task", task_id=found[0]))
    if found:
        return redirect(url_for("web.tasks", tracking=wanted))
    if wanted:
        flash(f"No task you may see has the id or tracking id {wanted!r}.", "error")
    else:
        flash("Type a task id or a tracking id to go to.", "error")
    return redirect(url_for("web.tasks"))


# --- many tasks at once ----------------------------------------------------------------------

# The form field that holds each bulk action's value.
BULK_VALUE_FIELDS = {
    "assign_user": "user",
    "assign_group": "group",
    "distribute_group": "group",
    "status": "status",
    "add_tag": "tag",
    "remove_tag": "tag",
}


def _chosen_ids() -> list[int]:
    """The rows ticked, or every row of the page with "select all on this page"."""
    field = "page_ids" if request.form.get("all_on_page") else "ids"
    raw = request.form.getlist(field)
    if field == "page_ids":
        raw = [part for value in raw for part in value.split(",")]
    ids = [references.as_id(value.strip()) for value in raw if value.strip()]
    if any(task_id is None for task_id in ids):
        raise InvalidInput("Task ids must be whole numbers", field="ids")
    return [task_id for task_id in ids if task_id is not None]


def _back_to_list() -> str:
    """The task list as the user left it (its query string came with the form)."""
    query = request.form.get("back", "")
    base = url_for("web.tasks")
    return f"{base}?{query}" if query and "://" not in query and not query.startswith("/") else base


@bp.post("/tasks/bulk")
@permission_required("task_read", "task_read_all")
def tasks_bulk() -> str | Response:
    """Step one of a bulk action: what it would touch, to confirm (nothing changes yet)."""
    action = request.form.get("action", "")
    chosen = bulk_actions.BulkAction(
        action, request.form.get(BULK_VALUE_FIELDS.get(action, "value"), "").strip()
    )
    try:
        ids = _chosen_ids()
        shown = bulk_actions.preview(
            db.session, actor=me(), task_ids=ids, request=chosen, lock_timeout=lock_timeout()
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(_back_to_list())
    return render_template(
        "tasks/bulk_confirm.html",
        title=chosen.describe(len(shown.tasks), shown.target) + "?",
        chosen=chosen,
        shown=shown,
        summary=chosen.describe(len(shown.tasks), shown.target),
        back=request.form.get("back", ""),
    )


@bp.post("/tasks/bulk/apply")
@permission_required("task_read", "task_read_all")
def tasks_bulk_apply() -> Response:
    """Step two: apply the confirmed action to every task, or to none."""
    chosen = bulk_actions.BulkAction(
        request.form.get("action", ""), request.form.get("value", "").strip()
    )
    try:
        message = bulk_actions.apply(
            db.session,
            actor=me(),
            task_ids=_chosen_ids(),
            request=chosen,
            lock_timeout=lock_timeout(),
            done_releases_lock=current_app.extensions["taskman_settings"].done_releases_lock,
        )
        db.session.commit()
    except DomainError as error:
        # Refused tasks included: the user can choose others, so the list says why.
        db.session.rollback()
        flash(error.message, "error")
        return redirect(_back_to_list())
    flash(f"{message}.", "success")
    return redirect(_back_to_list())


@bp.app_template_filter("effort")
def _effort(value: float | None) -> str:
    """A task's effort without trailing zeros: 1, 2.5, 0.25."""
    if value is None:
        return ""
    return f"{value:,.2f}".rstrip("0").rstrip(".")


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
        may_set_status=editing.may_set_status(me(), subject, db.session),
        aborts_along=_aborts_along(subject),
        overdue=task_pages.is_overdue(db.session, subject),
        waiting=subject.status == TaskStatus.WAITING,
    )


def _aborts_along(subject: Task) -> tuple[list[Task], int]:
    """What aborting the task aborts too (the other open tasks of its group), for the button."""
    if subject.taskgroup_id is None or subject.status in CLOSED_STATUSES:
        return [], 0
    return bulk_actions.aborted_along(db.session, viewer=me(), task_ids=[subject.id])


# The statuses a one-click button on the task page may set.
ONE_CLICK_STATUSES = (TaskStatus.DONE.value, TaskStatus.ABORTED.value)


@bp.post("/tasks/<int:task_id>/status")
@permission_required(*STATUS_EDIT)
def task_set_status(task_id: int) -> Response:
    """Mark done or abort in one click, through the same change as the API's."""
    subject = _visible(task_id)
    status = request.form.get("status", "")
    if status not in ONE_CLICK_STATUSES:
        flash(f"Status must be one of {', '.join(ONE_CLICK_STATUSES)}.", "error")
        return redirect(url_for("web.task", task_id=subject.id))
    attempt_action(
        lambda: task_changes.update(
            db.session,
            task=subject,
            changes={"status": status},
            actor=me(),
            done_releases_lock=current_app.extensions["taskman_settings"].done_releases_lock,
        ),
        f"Task {subject.id} is {status}.",
    )
    return redirect(url_for("web.task", task_id=subject.id))


def _task_form(subject: Task, editable: dict[str, bool]) -> TaskForm:
    form = TaskForm()
    if not editable["scheduling"]:
        for name in SCHEDULING_FIELDS:
            delattr(form, name)
    elif request.method == "GET":
        form.subject.data = subject.subject
        form.series.data = subject.series
        form.priority.data = subject.priority
        form.due.data = _as_form_time(subject.due)
        form.effort.data = subject.effort
    form.status.choices = [
        (s, s) for s in task_pages.status_choices(db.session, keep=[subject.status])
    ]
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


def _as_form_time(value: datetime | None) -> datetime | None:
    """A stored UTC time as the form shows it: naive, to the minute."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0)


def _scheduling_changes(form: TaskForm, subject: Task) -> dict[str, Any]:
    """What the form changes of the scheduling fields it sent (a form without them, as older
    pages post it, changes none; an empty number keeps the value)."""
    sent = set(request.form)
    wanted: dict[str, Any] = {
        "subject": (form.subject.data or "").strip() or None,
        "series": (form.series.data or "").strip() or None,
        "priority": form.priority.data,
        "effort": form.effort.data,
    }
    changes = {
        name: value
        for name, value in wanted.items()
        if name in sent
        and value != getattr(subject, name)
        and (value is not None or name in ("subject", "series"))
    }
    # The form shows minutes: a due time unchanged there keeps its seconds.
    if "due" in sent and form.due.data != _as_form_time(subject.due):
        changes["due"] = form.due.data.replace(tzinfo=UTC) if form.due.data else None
    return changes


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
    if editable["status"] and form.chosen_status() != subject.status:
        changes["status"] = form.chosen_status()
    if editable["assignment"]:
        changes.update(_assignment_changes(form, subject))
    if editable["scheduling"]:
        changes.update(_scheduling_changes(form, subject))
    if editable["tags"]:
        names = [name.strip() for name in (form.tags.data or "").split(",") if name.strip()]
        if names != [tag.name for tag in subject.tags]:
            changes["tags"] = names
    return changes


@bp.route("/tasks/<int:task_id>/edit", methods=["GET", "POST"])
@permission_required(*STATUS_EDIT, *ASSIGN_EDIT)
def task_edit(task_id: int) -> str | Response:
    subject = _visible(task_id)
    editable = {
        "status": can(*STATUS_EDIT),
        "assignment": can(*ASSIGN_EDIT),
        "tags": can("task_update_all"),
        "scheduling": can(*ASSIGN_EDIT),
    }
    form = _task_form(subject, editable)
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
