"""Fixtures: one real database per run (SQLite, or the server TASKMAN_TEST_DATABASE_URL names),
built by the real migrations, emptied between tests."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from taskmanager import create_app
from taskmanager.config import load_settings
from taskmanager.models import Base, db
from taskmanager.services.accounts import onboarding

from .support import databases

KEEP_TABLES = {"alembic_version"}


# What these check does not depend on the database (the pages' HTML to a browser, packaging,
# charts, docs, the OpenAPI document): marked `backend_independent`. CI runs them in the SQLite
# suite only: on PostgreSQL and MariaDB it sets TASKMAN_TEST_DESELECT_BACKEND_INDEPENDENT, and
# they are deselected (not skipped: a real-database run that skips fails), saving minutes of
# the CPU the suites share.
BACKEND_INDEPENDENT = (
    "tests/web/test_accessibility.py",
    "tests/web/test_macros.py",
    "tests/test_imports.py",
    "tests/test_scripts.py",
    "tests/deployment/test_manifests.py",
    "tests/deployment/test_package.py",
    "tests/docs/test_site.py",
    "tests/docs/test_architecture_page.py",
    "tests/docs/test_configuration_page.py",
    "tests/api/test_openapi_document.py",
)
ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    independent = {ROOT / path for path in BACKEND_INDEPENDENT}
    marked = [item for item in items if item.path in independent]
    for item in marked:
        item.add_marker(pytest.mark.backend_independent)
    if marked and os.environ.get("TASKMAN_TEST_DESELECT_BACKEND_INDEPENDENT"):
        items[:] = [item for item in items if item.path not in independent]
        config.hook.pytest_deselected(items=marked)


def pytest_report_header() -> str:
    return f"taskmanager test database: {databases.backend_name()}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = databases.create_database(tmp_path_factory.mktemp("db"))
    yield url
    databases.drop_database(url)


def make_env(database_url: str, instance: Path, **extra: str) -> dict[str, str]:
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key",
        "SECURITY_PASSWORD_SALT": "test-salt",
        "TASKMAN_INSTANCE_PATH": str(instance),
        "TASKMAN_ADMIN_USERNAME": "admin",
        "TASKMAN_ADMIN_PASSWORD": "admin",
        "TASKMAN_ADMIN_EMAIL": "admin@example.org",
        # Apps that tests build on the shared database must not deliver its callbacks from a
        # thread the test never stops; callback tests start delivery themselves.
        "TASKMAN_CALLBACK_WORKER": "false",
        # The cheapest argon2 the server accepts: tests hash and verify hundreds of passwords,
        # and the default cost (64 MiB, 3 passes) is meant to be slow.
        "TASKMAN_PASSWORD_HASH_ROUNDS": "1",
        "TASKMAN_PASSWORD_HASH_MEMORY_KIB": "1024",
        **extra,
    }


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    # The suite's site lets visitors register (off by default), so those pages are tested too.
    env = make_env(database_url, tmp_path_factory.mktemp("instance"), SECURITY_REGISTERABLE="true")
    return load_settings(env)


@pytest.fixture(scope="session")
def app(settings: Any) -> Iterator[Any]:
    application = create_app(settings)
    application.config["TESTING"] = True
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test that uses the app starts from an onboarded, otherwise empty database."""
    if "app" not in request.fixturenames:
        yield
        return
    application = request.getfixturevalue("app")
    yield
    with application.app_context():
        db.session.rollback()
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEEP_TABLES:
                db.session.execute(delete(table))
        db.session.commit()
        onboarding.run(db.session, application.extensions["taskman_settings"])
        application.extensions["taskman_credential_cache"].clear()


@pytest.fixture
def session(app: Any) -> Iterator[Any]:
    with app.app_context():
        yield db.session
        db.session.rollback()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def basic_auth(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return basic_auth("admin", "admin")
