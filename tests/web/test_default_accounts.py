"""A server as it starts by default is safe for its accounts (issue 18, item 9): strangers cannot
sign up, and the warning about admin/admin leads to a page that changes the password."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..conftest import make_env
from .seed import World

# Run in a process of its own, as a server is: Flask-Security's shared state keeps a feature
# that any earlier app of the test process turned on (the suite's own site allows registration).
_VISIT_A_DEFAULT_SITE = """
import json, os
from taskmanager import create_app
from taskmanager.config import load_settings
settings = load_settings()
client = create_app(settings).test_client()
print(json.dumps({
    "registerable": settings.registerable,
    "login": client.get("/login").get_data(as_text=True),
    "register": [client.get("/register").status_code, client.post("/register").status_code],
}))
"""


def test_visitors_cannot_register_unless_the_site_allows_it(settings: Any, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SECURITY_", "TASKMAN_"))},
        **make_env(settings.database_uri, tmp_path / "instance"),
    }
    run = subprocess.run(
        [sys.executable, "-c", _VISIT_A_DEFAULT_SITE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["registerable"] is False
    assert "Create an account" not in seen["login"] and "/register" not in seen["login"]
    assert seen["register"] == [404, 404]


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
