"""Every page, as an admin and as a plain user, on a desktop and on a phone (issue 18).

Each page must have no serious or critical axe-core finding, must not scroll sideways, and
must log no error to the browser console. One screenshot per page and width is kept under
test-artefacts/screenshots/ (CI keeps that folder).

One browser context per role and width is reused for all its pages (signing in and seeding
once); every page is checked and the test fails with the whole list of what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ..support.accessibility import blocking_violations, sideways_overflow, sticking_out
from ..support.servers import ServerProcess
from .conftest import Screenshots, database
from .seed import PASSWORD, PLAIN_USER, World, admin_pages, user_pages, visitor_pages

DESKTOP = 1440
PHONE = 390
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


@dataclass
class Tab:
    """A browser tab of one width that remembers what its pages logged as errors."""

    page: Any
    console_errors: list[str] = field(default_factory=list)

    def take_errors(self) -> list[str]:
        errors, self.console_errors = self.console_errors, []
        return errors


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def tab(request: pytest.FixtureRequest, browser: Any, live_server: ServerProcess) -> Iterator[Tab]:
    width = WIDTHS[request.param]
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    opened = Tab(page)
    page.on(
        "console",
        lambda message: (
            opened.console_errors.append(f"console: {message.text}")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: opened.console_errors.append(f"script: {error}"))
    yield opened
    context.close()


def sign_in(tab: Tab, identity: str, password: str) -> None:
    page = tab.page
    page.goto("/login")
    page.fill("input[name=identity]", identity)
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    tab.take_errors()


def screenshot_name(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "dashboard"


def problems_of(tab: Tab, url: str, snap: Screenshots, expected: int) -> list[str]:
    """What is wrong with one page, each line naming the page."""
    response = tab.page.goto(url)
    status = response.status if response is not None else None
    if status != expected:
        return [f"{url}: HTTP {status}, not {expected}"]
    snap(screenshot_name(url))
    found = [f"{url}: {violation}" for violation in blocking_violations(tab.page)]
    overflow = sideways_overflow(tab.page)
    if overflow:
        wide = ", ".join(sticking_out(tab.page))
        found.append(f"{url}: scrolls sideways by {overflow} px ({wide})")
    # The browser reports an error page's own status as a failed load; that one is expected.
    errors = [e for e in tab.take_errors() if expected == 200 or f"status of {expected}" not in e]
    found.extend(f"{url}: {error}" for error in errors)
    return found


def check_pages(tab: Tab, urls: list[str], snap: Screenshots, expected: int = 200) -> None:
    problems = [problem for url in urls for problem in problems_of(tab, url, snap, expected)]
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def add_queued_tasks(app: Any, count: int) -> None:
    """More tasks than one page of the task list holds, so its pager shows."""
    from taskmanager.services.accounts import users
    from taskmanager.services.tasks import creation

    with database(app) as session:
        admin = users.get_or_raise(session, reference="admin")
        specs = [
            creation.NewTask(
                project="brain-study", template="t1-review", content={"n": n}, users=["carol"]
            )
            for n in range(count)
        ]
        creation.create_many(session, specs=specs, actor=admin)
        session.commit()


def test_every_admin_page(tab: Tab, app: Any, world: World, request: pytest.FixtureRequest) -> None:
    add_queued_tasks(app, 30)
    sign_in(tab, "admin", "admin")
    paged = ["/tasks?per_page=25", "/tasks?per_page=25&page=2"]
    check_pages(tab, admin_pages(world) + paged, Screenshots(tab.page, request.node.name))


def test_every_plain_user_page(tab: Tab, world: World, request: pytest.FixtureRequest) -> None:
    snap = Screenshots(tab.page, request.node.name)
    # Before signing in: the account pages a visitor sees.
    check_pages(tab, visitor_pages(), snap)
    sign_in(tab, PLAIN_USER, PASSWORD)
    check_pages(tab, user_pages(world), snap)
    # The error pages: an admin page refused, a task that is not his (or does not exist).
    check_pages(tab, ["/users/new"], snap, expected=403)
    check_pages(tab, [f"/tasks/{world.tasks[0].id}", "/tasks/999999"], snap, expected=404)


def test_the_keyboard_reaches_the_content_first_and_shows_where_it_is(
    tab: Tab, world: World
) -> None:
    sign_in(tab, PLAIN_USER, PASSWORD)
    page = tab.page
    page.goto("/tasks")
    hidden = page.locator(".skip-link").bounding_box()
    assert hidden is not None and hidden["y"] + hidden["height"] <= 0, hidden
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.inner_text() == "Skip to content"
    assert skip.get_attribute("href") == "#content"
    # Off-screen until focused, then on it.
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0, box
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    # The next Tab lands inside the content, with a visible focus ring.
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    assert focused.evaluate("el => el.closest('main') !== null")
    outline = focused.evaluate(
        "el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth"
    )
    assert outline.startswith("solid") and not outline.endswith(" 0px"), outline
