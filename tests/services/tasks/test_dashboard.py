"""Dashboard aggregates: counts by status per project, template and task group."""

from __future__ import annotations

from typing import Any

from taskmanager.services.taskgroups import progress
from taskmanager.services.tasks import dashboard

from ...web.seed import seed


def test_progress_counts_tasks_by_status_for_what_the_viewer_sees(session: Any) -> None:
    world = seed(session)
    counted = dashboard.summary(session, viewer=world.admin)
    by_project = {p.label: p.counts for p in counted.projects}
    assert by_project == {
        "brain-study": {"queued": 4, "done": 1},
        "heart-study": {"queued": 2, "done": 1},
    }
    # Alice sees only her own three tasks.
    mine = dashboard.summary(session, viewer=world.alice).projects
    assert [(p.label, p.counts, p.total) for p in mine] == [
        ("brain-study", {"queued": 2, "done": 1}, 3)
    ]
    by_template = counted.templates
    assert [(p.label, p.count("queued"), p.count("done")) for p in by_template] == [
        ("t1-review", 6, 2)
    ]


def test_status_totals_and_newest_task_groups(session: Any) -> None:
    world = seed(session)
    assert dashboard.summary(session, viewer=world.admin).totals == {"done": 2, "queued": 6}
    assert dashboard.summary(session, viewer=world.carol).totals == {"done": 1}
    groups = progress.newest_taskgroups(session, viewer=world.admin, limit=5)
    assert [(g.key, g.label, g.counts) for g in groups] == [
        (world.taskgroup.id, "batch-1", {"queued": 2})
    ]
    assert progress.newest_taskgroups(session, viewer=world.alice, limit=5) == []
