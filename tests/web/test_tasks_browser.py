"""The task list as a tool in a real browser: tick two rows, set their status in bulk."""

from __future__ import annotations

import re
from typing import Any

from ..support.accessibility import blocking_violations, sideways_overflow
from .seed import PASSWORD, World


def test_admin_sets_the_status_of_two_selected_tasks(
    page: Any, snap: Any, log_in: Any, world: World
) -> None:
    first, second = world.tasks[2], world.tasks[3]
    log_in("admin", "admin")
    page.goto("/tasks?status=open")
    assert blocking_violations(page) == []
    page.check(f"input[name=ids][value='{first.id}']")
    page.check(f"input[name=ids][value='{second.id}']")
    page.select_option("form.bulk select[name=action]", "status")
    # Only the chosen action's value is asked for.
    assert page.locator("#bulk-status").is_visible()
    assert not page.locator("#bulk-user").is_visible()
    page.select_option("#bulk-status", "aborted")
    snap("tasks-selected")
    page.click("form.bulk button[type=submit]")
    page.wait_for_url(re.compile(r"/tasks/bulk$"))
    summary = page.inner_text("#bulk-summary")
    assert "This touches 2 tasks" in summary
    assert blocking_violations(page) == []
    snap("bulk-confirm")
    page.click("#bulk-summary button[type=submit]")  # the confirm dialog is answered yes
    page.wait_for_selector(".flash-success")
    assert "2 tasks set to aborted." in page.inner_text(".flash-success")
    assert page.url.endswith("/tasks?status=open")
    for task in (first, second):
        assert page.locator(f"input[name=ids][value='{task.id}']").count() == 0
    snap("tasks-after")


def test_select_all_ticks_every_row_and_the_list_fits_a_phone(
    page: Any, snap: Any, log_in: Any, world: World
) -> None:
    log_in("admin", "admin")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/tasks")
    assert sideways_overflow(page) == 0
    page.check("#all-on-page")
    rows = page.locator("input[name=ids]")
    assert rows.count() == len(world.tasks) + 2
    assert all(rows.nth(n).is_checked() for n in range(rows.count()))
    rows.first.uncheck()
    assert not page.locator("#all-on-page").is_checked()
    snap("tasks-phone")


def test_a_user_marks_a_task_done_in_one_click_and_chooses_statuses(
    page: Any, snap: Any, log_in: Any, world: World
) -> None:
    task = world.tasks[3]
    log_in("bob", PASSWORD)
    page.goto(f"/tasks/{task.id}")
    assert blocking_violations(page) == []
    snap("task-buttons")
    page.click(".task-actions button:has-text('Mark done')")
    page.wait_for_selector(".flash-success")
    assert f"Task {task.id} is done." in page.inner_text(".flash-success")
    page.goto(f"/tasks/{task.id}/edit")
    assert page.locator("select[name=status] option").count() >= 3
    page.click("details.new-status summary")
    page.fill("input[name=new_status]", "second-read")
    page.click("button:has-text('Save')")
    page.wait_for_selector("#create_status")
    assert "Create the new status 'second-read'?" in page.inner_text("main")
    assert blocking_violations(page) == []
    snap("new-status-asked")
    page.check("#create_status")
    page.click("button:has-text('Save')")
    page.wait_for_selector(".flash-success")
    assert "second-read" in page.inner_text("main h1")
