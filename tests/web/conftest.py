"""Web UI fixtures: a test-client login, and for browser tests a real server driven by Chromium.

The browser tests run `taskmanager serve` against the suite's database, so data the test writes
through the services (and commits) is what the browser sees, and the usual clean-up between
tests applies. Debian's Chromium is used as installed; browsers are never downloaded.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ..conftest import make_env
from ..support import needs
from ..support.databases import backend_name
from ..support.servers import ServerProcess, serve

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# One folder per database backend: CI runs the three suites side by side.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "test-artefacts" / "screenshots" / backend_name()
)
INSTANCE_NAME = "Imaging Lab"
PROJECT_NAME = "Browser Study"

CSRF_INPUT = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'type="hidden" name="csrf_token" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def csrf_token_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token on the page"
    return next(group for group in match.groups() if group)


def web_login(client: Any, identity: str, password: str) -> Any:
    """Log the test client in through the login form (with its CSRF token)."""
    page = client.get("/login")
    token = csrf_token_from(page.get_data(as_text=True))
    page.close()
    return client.post(
        "/login",
        data={"identity": identity, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


@pytest.fixture
def world(app: Any) -> Any:
    """The seed data, committed. Its app context is closed again: a context left open would be
    shared by the test client's requests (and with it `g`, where the signed-in user lives)."""
    from taskmanager.models import db

    from .seed import seed

    with app.app_context():
        made = seed(db.session)
        db.session.remove()
    return made


@contextmanager
def database(app: Any) -> Iterator[Any]:
    """A session for a few statements between requests (never around one)."""
    from taskmanager.models import db

    with app.app_context():
        yield db.session
        db.session.remove()


# --- a real server and a real browser ------------------------------------------------------


@pytest.fixture(scope="session")
def live_server(
    app: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """`taskmanager serve` on the suite's (already migrated) database."""
    workdir = tmp_path_factory.mktemp("live")
    env = make_env(
        database_url,
        workdir / "instance",
        TASKMAN_INSTANCE_NAME=INSTANCE_NAME,
        TASKMAN_PROJECT_NAME=PROJECT_NAME,
        SECURITY_REGISTERABLE="true",
        SECURITY_CONFIRMABLE="true",
        GUNICORN_WORKER_CONNECTIONS="8",
    )
    with serve(env, workdir, workers=1) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    chromium = needs.chromium()
    # Each run's screenshots replace the previous run's.
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Screenshots:
    """Saves numbered screenshots of one test's pages under test-artefacts/screenshots."""

    def __init__(self, page: Any, test_name: str) -> None:
        self.page = page
        self.prefix = re.sub(r"[^A-Za-z0-9_]+", "_", test_name).strip("_")
        self.count = 0

    def __call__(self, name: str) -> Path:
        self.count += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(browser: Any, live_server: ServerProcess, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 860})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    # Confirmation dialogs (data-confirm) are answered "yes", as the user would.
    tab.on("dialog", lambda dialog: dialog.accept())
    yield tab
    context.close()


@pytest.fixture
def snap(page: Any, request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(page, request.node.name)


@pytest.fixture
def log_in(page: Any) -> Callable[[str, str], None]:
    def do(identity: str, password: str) -> None:
        page.goto("/login")
        page.fill("input[name=identity]", identity)
        page.fill("input[name=password]", password)
        page.click("input[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)

    return do
