"""Pages: task groups (list, detail)."""

from __future__ import annotations

from flask import render_template, request

from ..models import db
from ..services.callbacks import outbox as callbacks
from ..services.metadata import rendering
from ..services.taskgroups import progress as taskgroup_progress
from ..services.taskgroups import reads, taskgroup_pages
from ..services.tasks import dashboard as task_dashboard
from ..services.tasks import task_pages
from .blueprint import bp, me, permission_required
from .dashboard import KNOWN_STATUSES, ordered_statuses
from .lists import Pager, Sorter
from .pretty import pretty_document
from .taskviews import held_locks

CALLBACKS_SHOWN = 10


@bp.get("/taskgroups")
@permission_required("task_read", "task_read_all")
def taskgroups_list() -> str:
    pager = Pager.from_request()
    sorter = Sorter.from_request(taskgroup_pages.TASKGROUP_SORTS, "-id")
    filters = {"q": request.args.get("q", "").strip(), "status": request.args.get("status", "")}
    page = taskgroup_pages.taskgroups_page(
        db.session,
        viewer=me(),
        search=filters["q"],
        status=filters["status"] or None,
        sort=sorter.value,
        offset=pager.offset,
        limit=pager.per_page,
    )
    pager.show(page)
    statuses = ordered_statuses({s for row in page.items for s in row.progress.counts})
    return render_template(
        "taskgroups/list.html",
        title="Task groups",
        rows=page.items,
        statuses=statuses,
        status_choices=[(s, s) for s in KNOWN_STATUSES],
        pager=pager,
        sorter=sorter,
        filters=filters,
    )


@bp.get("/taskgroups/<int:taskgroup_id>")
@permission_required("task_read", "task_read_all")
def taskgroup(taskgroup_id: int) -> str:
    viewer = me()
    subject, status = reads.get_or_raise(db.session, reference=taskgroup_id, user=viewer)
    pager = Pager.from_request()
    page = task_pages.tasks_page(
        db.session,
        viewer=viewer,
        taskgroup=subject,
        sort="id",
        offset=pager.offset,
        limit=pager.per_page,
    )
    pager.show(page)
    progress = taskgroup_progress.progress_of_taskgroups(
        db.session, viewer=viewer, ids=[subject.id]
    )
    counts = progress.get(subject.id) or task_dashboard.Progress(subject.id, subject.label)
    deliveries, deliveries_total = callbacks.list_deliveries(
        db.session, taskgroup_id=subject.id, limit=CALLBACKS_SHOWN
    )
    values = rendering.current_values(db.session)
    return render_template(
        "taskgroups/detail.html",
        title=subject.label,
        subject=subject,
        status=status,
        counts=counts,
        statuses=ordered_statuses(counts.counts),
        rows=page.items,
        held=held_locks(page.items),
        pager=pager,
        callback_url=rendering.render_optional(subject.raw_callback_url, values),
        callback_content=pretty_document(subject.callback_content),
        deliveries=deliveries,
        deliveries_total=deliveries_total,
    )
