"""The web UI in a real browser (Debian's Chromium through Playwright) against a real server.

Each step saves a screenshot under test-artefacts/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

from ..support.servers import ServerProcess
from .conftest import INSTANCE_NAME, PROJECT_NAME
from .seed import PASSWORD, World


def test_admin_finds_a_task_and_releases_its_lock(
    page: Any, snap: Any, log_in: Any, world: World
) -> None:
    log_in("admin", "admin")
    # The dashboard: instance and project in the header, progress bars, activity.
    assert page.inner_text(".brand") == INSTANCE_NAME
    assert page.inner_text(".project") == PROJECT_NAME
    assert page.locator("table.progress .bar .seg").count() > 0
    assert "brain-study" in page.inner_text("main")
    snap("dashboard")

    page.click('nav.mainnav a:text-is("Tasks")')
    snap("tasks")
    # Choosing in a filter changes nothing until the filters are applied.
    page.select_option("select[name=project]", "brain-study")
    page.select_option("select[name=tag]", "urgent")
    assert "project=" not in page.url
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"project=brain-study.*tag=urgent"))
    rows = page.locator("main table tbody tr")
    assert rows.count() == 2
    assert "heart-study" not in page.inner_text("main table")
    snap("tasks-filtered")

    locked = world.tasks[0]
    page.click(f"main table a[href$='/tasks/{locked.id}']")
    page.wait_for_url(re.compile(rf"/tasks/{locked.id}$"))
    assert "Locked by alice" in page.inner_text("#lock")
    # Content is pretty-printed with the meta variable filled in.
    assert "http://xnat.example.org/data/subject-001/T1W.nii.gz" in page.inner_text("#task-content")
    snap("task")

    page.click("#lock button:has-text('Release the lock')")
    page.wait_for_selector(".flash-success")
    assert "Not locked" in page.inner_text("#lock")
    assert "lock of alice released by admin" in page.inner_text("main")  # the history says it
    snap("task-released")


def test_admin_moves_a_leaving_users_open_tasks_to_a_colleague(
    page: Any, snap: Any, log_in: Any, world: World
) -> None:
    log_in("admin", "admin")
    page.goto(f"/users/{world.alice.id}")
    snap("alice")
    page.click("text=Reassign open tasks")
    page.wait_for_selector("#pending")
    assert "2 open tasks" in page.inner_text("#pending")
    page.select_option("select[name=to_user]", str(world.carol.id))
    snap("reassign-form")
    page.click("button:has-text('Move the tasks')")
    page.wait_for_selector(".flash-success")
    message = page.inner_text(".flash-success")
    assert "admin moved 2 tasks from alice to carol" in message
    assert "Released 1 lock" in message
    snap("reassigned")

    page.goto(f"/users/{world.carol.id}")
    carol_tasks = page.inner_text("main section:has(h2:text('Open tasks'))")
    for task in (world.tasks[0], world.tasks[2]):
        assert str(task.id) in carol_tasks
    snap("carol")


def test_admin_adds_a_user_to_a_group(page: Any, snap: Any, log_in: Any, world: World) -> None:
    log_in("admin", "admin")
    page.click('nav.mainnav a:text-is("Groups")')
    snap("groups")
    page.click('main table a:text-is("readers")')
    page.wait_for_url(re.compile(rf"/groups/{world.readers.id}$"))
    snap("group")
    page.select_option("form.add-member select[name=user]", str(world.alice.id))
    page.click("form.add-member button")
    page.wait_for_selector(".flash-success")
    members = page.inner_text("main section.panel:has(h2:text('Members'))")
    assert "alice" in members and "bob" in members
    snap("group-with-alice")


def test_a_visitor_registers_and_confirms_an_account(
    page: Any, snap: Any, log_in: Any, live_server: ServerProcess
) -> None:
    page.goto("/login")
    snap("login")
    page.click("text=Create an account")
    page.fill("input[name=email]", "erin@example.org")
    page.fill("input[name=username]", "erin")
    page.fill("input[name=password]", "erin-long-passphrase")
    page.fill("input[name=password_confirm]", "erin-long-passphrase")
    snap("register")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/login"))
    snap("registered")

    # No mail server is configured: the server logs the message, link included.
    link = None
    for _ in range(50):
        found = re.findall(r"/confirm/[A-Za-z0-9._-]+", live_server.output())
        if found:
            link = found[-1]
            break
        page.wait_for_timeout(100)
    assert link, live_server.output()[-3000:]
    page.goto(link)
    snap("confirmed")
    log_in("erin", "erin-long-passphrase")
    assert "Your open tasks" in page.inner_text("main")
    assert page.inner_text(".account a") == "erin"
    snap("dashboard-erin")


def test_a_plain_user_is_refused_an_admin_page(
    page: Any, snap: Any, log_in: Any, world: World
) -> None:
    log_in("bob", PASSWORD)
    assert page.locator('nav.mainnav a:text-is("Users")').count() == 0
    response = page.goto("/users/new")
    assert response is not None and response.status == 403
    assert "Not allowed" in page.inner_text("main")
    snap("forbidden")
