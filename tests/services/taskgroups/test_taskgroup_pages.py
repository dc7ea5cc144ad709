"""Browsing lists: filters, sorting, counts per row and visibility."""

from __future__ import annotations

from typing import Any

from taskmanager.services.taskgroups import taskgroup_pages

from ...web.seed import seed


def test_task_groups_carry_their_status_and_progress(session: Any) -> None:
    world = seed(session)
    [row] = taskgroup_pages.taskgroups_page(session, viewer=world.bob).items
    assert (row.taskgroup.label, row.status, row.progress.counts) == (
        "batch-1",
        "queued",
        {"queued": 2},
    )
    assert taskgroup_pages.taskgroups_page(session, viewer=world.bob, status="done").total == 0
    assert taskgroup_pages.taskgroups_page(session, viewer=world.alice).total == 0
