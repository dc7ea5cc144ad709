"""A server as it starts by default is safe for its accounts (issue 18, item 9): strangers cannot
sign up, and the warning about admin/admin leads to a page that changes the password."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..conftest import make_env
from .seed import World


def test_visitors_cannot_register_unless_the_site_allows_it(settings: Any, tmp_path: Path) -> None:
    from taskmanager import create_app
    from taskmanager.config import load_settings
    from taskmanager.models import db

    # The suite's own site allows registration; a site with no such setting does not.
    defaults = load_settings(make_env(settings.database_uri, tmp_path / "instance"))
    assert defaults.registerable is False
    site = create_app(defaults)
    site.config["TESTING"] = True
    try:
        visitor = site.test_client()
        login = visitor.get("/login")
        text = login.get_data(as_text=True)
        login.close()
        assert login.status_code == 200
        assert "Create an account" not in text and "/register" not in text
        for method in (visitor.get, visitor.post):
            refused = method("/register")
            assert refused.status_code == 404
            refused.close()
    finally:
        with site.app_context():
            db.session.remove()


def test_the_default_password_warning_leads_to_where_it_is_changed(
    page: Any, snap: Any, log_in: Any, world: World
) -> None:
    log_in("admin", "admin")
    page.click("#change-default-password")
    page.wait_for_url(re.compile(r"/change$"))
    assert page.locator("input[type=password]").count() == 3  # current, new, repeated
    snap("change-password")
    page.fill("input[name=password]", "admin")
    page.fill("input[name=new_password]", "a-much-better-passphrase")
    page.fill("input[name=new_password_confirm]", "a-much-better-passphrase")
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: not url.endswith("/change"))
    page.goto("/")
    assert page.locator("#change-default-password").count() == 0
    snap("dashboard-without-warning")
