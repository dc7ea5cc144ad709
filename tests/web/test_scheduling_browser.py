"""The scheduling pages in a real browser, on a desktop and on a phone: a waiting task, the
policy form refusing a value, and a distribution among a group's members from the task list to
its confirmation. Each page must have no serious or critical axe-core finding and must not
scroll sideways (as tests/web/test_accessibility.py checks every page)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import update

from taskmanager.models import Task, User
from taskmanager.services.accounts import groups

from ..support.accessibility import blocking_violations, sideways_overflow, sticking_out
from .conftest import Screenshots, database
from .seed import World
from .test_accessibility import Tab, check_pages, sign_in, tab  # noqa: F401  (the fixture)

LONG_URL = "http://pacs.example.org/studies/" + "1.2.840.113619.2.55.3.604688119" * 3


def _waiting_and_panel(app: Any, world: World) -> None:
    with database(app) as session:
        session.execute(
            update(Task)
            .where(Task.id == world.tasks[4].id)
            .values(
                status="waiting",
                wait_for=LONG_URL,
                wait_detail="GET answered 404 at 2026-12-06 15:00 UTC",
                wait_attempts=2,
            )
        )
        members = [session.get(User, world.alice.id), session.get(User, world.carol.id)]
        groups.create(session, groupname="panel", name="Reading panel", users=members)
        session.commit()


def _problems_here(opened: Tab, name: str) -> list[str]:
    found = list(blocking_violations(opened.page))
    overflow = sideways_overflow(opened.page)
    if overflow:
        wide = ", ".join(sticking_out(opened.page))
        found.append(f"scrolls sideways by {overflow} px ({wide})")
    found.extend(opened.take_errors())
    return [f"{name}: {problem}" for problem in found]


def test_scheduling_pages_are_accessible_and_fit_a_phone(
    tab: Tab,  # noqa: F811  (the fixture imported above)
    app: Any,
    world: World,
    request: pytest.FixtureRequest,
) -> None:
    _waiting_and_panel(app, world)
    snap = Screenshots(tab.page, request.node.name)
    page = tab.page
    # The confirmation dialog (data-confirm) is answered "yes", as the user would.
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(tab, "admin", "admin")
    check_pages(tab, [f"/tasks/{world.tasks[4].id}"], snap)
    assert "Waiting for its data:" in page.inner_text("#waiting")

    # The policy form, refusing a combination next to the field.
    page.goto("/projects/brain-study")
    page.click("details.policy-edit summary")
    page.check("#distinct_readers")
    page.fill("#washout_days", "30")
    page.click("#policy-form button[type=submit]")
    page.wait_for_selector(".field.has-error")
    assert "washout_days applies" in page.inner_text("#policy-form")
    snap("policy-refused")
    problems = _problems_here(tab, "policy form with an error")

    # A distribution, from the list to the confirmation that shows the split.
    page.goto("/tasks?project=brain-study&status=open")
    page.check(f"input[name=ids][value='{world.tasks[0].id}']")
    page.check(f"input[name=ids][value='{world.tasks[2].id}']")
    page.select_option("form.bulk select[name=action]", "distribute_group")
    assert page.locator("#bulk-group").is_visible()
    page.select_option("#bulk-group", "panel")
    page.click("form.bulk button[type=submit]")
    page.wait_for_url(re.compile(r"/tasks/bulk$"))
    assert "Who gets how many" in page.inner_text("#bulk-summary")
    snap("distribute-confirm")
    problems += _problems_here(tab, "distribution confirmation")
    page.click("#bulk-summary button[type=submit]")
    page.wait_for_selector(".flash-success")
    assert "2 tasks distributed among the members of panel." in page.inner_text(".flash-success")
    assert not problems, "\n".join(problems)
