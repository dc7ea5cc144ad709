"""The reassign page in a real browser: choosing whom to move shows what would move, asking nothing."""

from __future__ import annotations

import re
from typing import Any

from ..support.accessibility import blocking_violations
from .seed import World


def test_choosing_a_user_previews_on_the_button_without_a_confirmation(
    page: Any, snap: Any, log_in: Any, world: World
) -> None:
    questions: list[str] = []
    page.on("dialog", lambda dialog: questions.append(dialog.message))
    log_in("admin", "admin")
    page.goto("/reassign")
    # Moving through the choices (arrow keys) does not reload the page.
    page.select_option("select[name=from_user]", str(world.alice.id))
    page.wait_for_timeout(300)
    assert page.locator("#pending").count() == 0
    assert "from_user" not in page.url
    page.click("button:has-text('Show what would move')")
    page.wait_for_url(re.compile(rf"from_user={world.alice.id}"))
    assert "2 open tasks" in page.inner_text("#pending")
    assert questions == []  # a preview changes nothing, so it asks nothing
    assert blocking_violations(page) == []
    snap("reassign-preview")
