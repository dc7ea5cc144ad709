"""Schemathesis against a real server and its own OpenAPI document, as admin and as a plain user.

Every operation of /api/v1/openapi.json is called with generated requests (the examples,
coverage and fuzzing phases, seeded: the same run every time). No answer may be a server error
or contradict the document: its status code must be documented, its content type and body must
match. CI runs this module on PostgreSQL (see docs/security.md, "Fuzzing").
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from taskmanager import create_app
from taskmanager.config import load_settings
from taskmanager.models import db
from tests.conftest import make_env
from tests.support import databases
from tests.support.servers import serve

from . import hostile
from .world import PLAIN_USER, seed

# CI's run: the same requests every time. Set these to explore further (e.g. another seed and
# 200 examples) before a release; a failure names the request that reproduces it.
SEED = int(os.environ.get("TASKMAN_FUZZ_SEED", "20251123"))
# Generated requests per operation and account in the fuzzing phase (the coverage phase adds
# its boundary and wrong-type values for every parameter).
MAX_EXAMPLES = int(os.environ.get("TASKMAN_FUZZ_MAX_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("fuzz")
    with databases.scratch_database(base) as url:
        env = make_env(url, base / "instance")
        world = seed(env)
        with serve(env, base, workers=2) as process:
            yield {"url": process.url, "world": world}


def _document() -> dict[str, Any]:
    """The OpenAPI document, built by an app (that never touches its database) at collection
    time, so that each operation becomes a test item; test_server_serves_the_fuzzed_document
    checks that the server under test serves this very document."""
    with tempfile.TemporaryDirectory() as scratch:
        env = make_env(f"sqlite:///{scratch}/spec.db", Path(scratch) / "instance")
        app = create_app(load_settings(env), TASKMAN_AUTO_MIGRATE=False)
        try:
            return json.loads(json.dumps(app.spec))
        finally:
            with app.app_context():
                db.engine.dispose()


CONFIG = {
    "seed": SEED,
    "generation": {
        "max-examples": MAX_EXAMPLES,
        # Credentials come from the account under test, never made up: wrong ones would only
        # count towards the login throttle.
        "with-security-parameters": False,
        # No example database: the run is the same whatever ran before it.
        "database": "none",
    },
    "phases": {"stateful": {"enabled": False}},
    # A busy CI machine may be slow to answer; a timeout would be reported as a failure.
    "request-timeout": 120,
}
DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))


def _login(username: str, password: str) -> Iterator[requests.Session]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Basic {token}"
        yield session


@pytest.fixture(scope="session")
def as_admin() -> Iterator[requests.Session]:
    yield from _login("admin", "admin")


@pytest.fixture(scope="session")
def as_user() -> Iterator[requests.Session]:
    """alice: the `user` role only; a member of one group; some tasks are hers."""
    yield from _login(*PLAIN_USER)


def test_server_serves_the_fuzzed_document(server: dict[str, Any]) -> None:
    served = requests.get(f"{server['url']}/api/v1/openapi.json", timeout=30)
    assert served.status_code == 200
    document = served.json()
    # The one part made per request: the path the server is mounted under (taskmanager.proxying).
    assert document.pop("servers") == [{"url": "/"}]
    assert document == DOCUMENT


def test_hostile_values_get_no_server_error(
    server: dict[str, Any], as_admin: requests.Session
) -> None:
    """Every operation, with fuzz/hostile.py's values in its path and in each body field, as
    admin (every route reads its body); deep nesting also anonymously (401 comes first)."""
    pools = server["world"].pools

    def real_id(name: str) -> str:
        return str(pools[name].kept[0]) if name in pools else "1"

    failures = []
    sent = 0
    with requests.Session() as nobody:
        for probe in hostile.probes(DOCUMENT, real_id):
            response = hostile.send(as_admin, server["url"], probe)
            sent += 1
            if (problem := hostile.problem(probe, response)) is not None:
                failures.append(f"{probe.method} {probe.path[:80]} ({probe.what}): {problem}")
            if probe.what == "deep nesting as the body":
                status = hostile.send(nobody, server["url"], probe).status_code
                if status != 401:
                    failures.append(f"{probe.method} {probe.path} anonymous: {status}")
    assert sent > 500
    assert not failures, "\n".join(failures)


# gunicorn's default limit: it answers a longer request line with its own 414 HTML page before
# any of the application runs, so that answer is gunicorn's, not the API's (and not in the
# document). Only that case is let through, and only when the line really is that long.
REQUEST_LINE_LIMIT = 4094


def _request_line(response: Any) -> str:
    return f"{response.request.method} {response.request.path_url} HTTP/1.1"


def _call(case: Any, session: requests.Session, server: dict[str, Any]) -> None:
    case.path_parameters = server["world"].steer(case.method, case.path_parameters)
    response = case.call(base_url=server["url"], session=session)
    if response.status_code == 414 and len(_request_line(response)) > REQUEST_LINE_LIMIT:
        return
    case.validate_response(response, checks=CHECKS)


# The plain user goes first: the admin's deletions would leave it fewer rows to reach.
@schema.parametrize()
def test_plain_user_gets_documented_answers(
    case: Any, as_user: requests.Session, server: dict[str, Any]
) -> None:
    _call(case, as_user, server)


@schema.parametrize()
def test_admin_gets_documented_answers(
    case: Any, as_admin: requests.Session, server: dict[str, Any]
) -> None:
    _call(case, as_admin, server)
