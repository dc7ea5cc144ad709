"""One real server (gunicorn) on a fresh database for the command tests, and a way to run each
command against it over HTTP or directly on the same database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from taskmanager.cli import main
from taskmanager.config import normalise_database_uri

from ..conftest import make_env
from ..support import databases
from ..support.servers import serve

ADMIN = ("admin", "admin")


@dataclass
class Cli:
    """Runs `taskmanager ...` in-process: over HTTP to `url`, or with -db on `database_url`."""

    url: str
    database_url: str
    env: dict[str, str]
    home: Path
    engine: Any

    def run(
        self,
        *args: str,
        database: bool = False,
        login: tuple[str, str] | None = ADMIN,
        url: str | None = "",
        input: str | None = None,
        env: dict[str, str | None] | None = None,
    ) -> Result:
        """`url` "" is the test server; None passes no --url (TASKMAN_URL or the default)."""
        extra: list[str] = []
        if database:
            extra = ["--database-insert"]
        else:
            extra = ["--url", url or self.url] if url is not None else []
            if login is not None:
                extra += ["--auth-user", login[0], "--auth-password", login[1]]
        environment: dict[str, str | None] = {
            **self.env,
            "HOME": str(self.home),
            "TASKMAN_TOKEN": None,
            "TASKMAN_URL": None,
            **(env or {}),
        }
        return CliRunner().invoke(main, [*args, *extra], env=environment, input=input)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="package")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    workdir = tmp_path_factory.mktemp("cli-server")
    database_url = databases.create_database(workdir)
    env = make_env(database_url, workdir / "instance")
    home = tmp_path_factory.mktemp("home")
    engine = create_engine(normalise_database_uri(database_url))
    try:
        with serve(env, workdir, workers=2) as server:
            yield Cli(server.url, database_url, env, home, engine)
    finally:
        engine.dispose()
        databases.drop_database(database_url)
