"""Create and drop uniquely named test databases on SQLite, PostgreSQL or MariaDB."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from taskmanager.config import normalise_database_uri

ENV_VAR = "TASKMAN_TEST_DATABASE_URL"


def server_url() -> str | None:
    """The real database server the suite must use, if the run names one."""
    value = os.environ.get(ENV_VAR, "").strip()
    return normalise_database_uri(value) if value else None


def create_database(base_dir: Path, prefix: str = "tm_test") -> str:
    """A new empty database; its URL. Fails loudly when a named server is unreachable."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    server = server_url()
    if server is None:
        return f"sqlite:///{base_dir / (name + '.db')}"
    url = make_url(server)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if url.get_backend_name() == "postgresql":
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                connection.execute(
                    text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
                )
    finally:
        engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@contextmanager
def scratch_database(base_dir: Path, prefix: str = "tm_test") -> Iterator[str]:
    """A new empty database (its URL) for the block, dropped after it."""
    url = create_database(base_dir, prefix)
    try:
        yield url
    finally:
        drop_database(url)


def drop_database(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(str(url.database) + suffix).unlink(missing_ok=True)
        return
    server = make_url(server_url() or database_url)
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if url.get_backend_name() == "postgresql":
                connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{url.database}`"))
    finally:
        engine.dispose()


def backend_name() -> str:
    server = server_url()
    return "sqlite" if server is None else make_url(server).get_backend_name()
