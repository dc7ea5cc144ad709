"""`taskmanager db clean` and the old `taskmanager-db-clean`: drop everything, start again."""

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from taskmanager import database
from taskmanager.cli import main
from taskmanager.config import normalise_database_uri

from ..conftest import make_env
from ..support import databases


def test_db_clean_asks_then_drops_and_recreates(tmp_path: Path) -> None:
    url = databases.create_database(tmp_path)
    engine = create_engine(normalise_database_uri(url))
    try:
        env = make_env(url, tmp_path / "instance")
        database.upgrade(normalise_database_uri(url))
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE old_server_table (id INTEGER PRIMARY KEY)"))
            connection.execute(text("INSERT INTO tags (name) VALUES ('keep-me')"))
        runner = CliRunner()

        declined = runner.invoke(main, ["db", "clean"], env=env, input="no\n")
        assert declined.exit_code == 1 and "Continue?" in declined.output
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
