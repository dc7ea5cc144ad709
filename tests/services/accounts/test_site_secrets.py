"""The secrets a database was set up with: recorded as fingerprints at the first start; a start
with another SECURITY_PASSWORD_SALT or SECRET_KEY is refused in one line until accepted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from taskmanager.cli import main

from ...conftest import make_env
from ...support import databases
from ...support.servers import start_until_serving

LIMIT_SECONDS = 10


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    with databases.scratch_database(tmp_path, prefix="tm_secrets") as url:
        yield url


def start_server(env: dict[str, str]) -> tuple[int, str]:
    started = time.monotonic()
    status, output = start_until_serving(env)
    assert time.monotonic() - started < LIMIT_SECONDS * 3, output
    return status, output


def stored_fingerprints(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT name, value FROM site_facts")).all()
    finally:
        engine.dispose()
    return dict(rows)


def test_first_start_records_fingerprints_never_the_secrets(
    database_url: str, tmp_path: Path
) -> None:
    env = make_env(database_url, tmp_path / "instance")
    result = CliRunner().invoke(main, ["onboarding"], env=env)
    assert result.exit_code == 0, result.output
    # `onboarding` does not start a server: the first start records them.
    assert stored_fingerprints(database_url) == {}
    status, output = start_server(env)
    assert status in (0, -15), output
    facts = stored_fingerprints(database_url)
    assert set(facts) == {"fingerprint:security_password_salt", "fingerprint:secret_key"}
    for value in facts.values():
        assert value.startswith("pbkdf2-sha256$")
        assert env["SECRET_KEY"] not in value and env["SECURITY_PASSWORD_SALT"] not in value


@pytest.mark.parametrize(
    ("variable", "harm"),
    [
        ("SECURITY_PASSWORD_SALT", "every stored password would fail to verify"),
        ("SECRET_KEY", "every session, token and confirmation or reset link would be void"),
    ],
)
def test_a_start_with_another_secret_is_refused_until_accepted(
    database_url: str, tmp_path: Path, variable: str, harm: str
) -> None:
    env = make_env(database_url, tmp_path / "instance")
    assert start_server(env)[0] in (0, -15)
    changed = {**env, variable: "another-value"}

    started = time.monotonic()
    status, output = start_server(changed)
    assert time.monotonic() - started < LIMIT_SECONDS
    errors = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert status == 1 and len(errors) == 1 and "Traceback" not in output, output
    assert f"{variable} differs from the one this database was set up with" in errors[0]
    assert harm in errors[0] and "taskmanager db accept-secrets" in errors[0]

    accepted = CliRunner().invoke(main, ["db", "accept-secrets", "--yes"], env=changed)
    assert accepted.exit_code == 0, accepted.output
    assert start_server(changed)[0] in (0, -15)
    # And now the old value is the one refused.
    assert start_server(env)[0] == 1
