"""`taskmanager db clean` and the old `taskmanager-db-clean`: drop everything, start again."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from taskmanager import database
from taskmanager.cli import main
from taskmanager.config import normalise_database_uri

from ..conftest import make_env
from ..support import databases


def test_db_clean_asks_then_drops_and_recreates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = databases.create_database(tmp_path)
    engine = create_engine(normalise_database_uri(url))
    try:
        env = make_env(url, tmp_path / "instance")
        database.upgrade(normalise_database_uri(url))
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE old_server_table (id INTEGER PRIMARY KEY)"))
            connection.execute(text("INSERT INTO tags (name) VALUES ('keep-me')"))
        runner = CliRunner()
        where = make_url(normalise_database_uri(url)).render_as_string(hide_password=True)

        refused = runner.invoke(main, ["db", "clean"], env=env)
        assert refused.exit_code == 2
        assert refused.output == (
            f"Error: Not done: this would delete every table and all data in {where}; "
            "pass --yes to confirm (no terminal to ask on).\n"
        )
        monkeypatch.setattr("taskmanager.cli.confirm.interactive", lambda: True)

        declined = runner.invoke(main, ["db", "clean"], env=env, input="no\n")
        assert declined.exit_code == 1 and "Continue?" in declined.output
        assert f"delete every table and all data in {where}" in declined.output
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM tags")).scalar() == 1

        result = runner.invoke(main, ["db", "clean", "--force"], env=env)
        assert result.exit_code == 0, result.output
        assert "Admin account: admin" in result.output
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM tags")).scalar() == 0
            assert connection.execute(text("SELECT username FROM users")).scalars().all() == [
                "admin"
            ]
        tables = inspect(engine).get_table_names()
        assert "old_server_table" not in tables and "tasks" in tables
    finally:
        engine.dispose()
        databases.drop_database(url)


def test_db_downgrade_names_the_database_and_needs_yes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = databases.create_database(tmp_path)
    try:
        env = make_env(url, tmp_path / "instance")
        uri = normalise_database_uri(url)
        database.upgrade(uri)
        where = make_url(uri).render_as_string(hide_password=True)
        runner = CliRunner()

        refused = runner.invoke(main, ["db", "downgrade", "base"], env=env)
        assert refused.exit_code == 2 and where in refused.output and "--yes" in refused.output
        assert database.current_revision(uri)

        monkeypatch.setattr("taskmanager.cli.confirm.interactive", lambda: True)
        declined = runner.invoke(main, ["db", "downgrade", "base"], env=env, input="n\n")
        assert declined.exit_code == 1
        assert f"drop every table and all data in {where}. Continue?" in declined.output
        assert database.current_revision(uri)

        done = runner.invoke(main, ["db", "downgrade", "--yes"], env=env)
        assert done.exit_code == 0, done.output
        assert database.current_revision(uri) is None
    finally:
        databases.drop_database(url)
