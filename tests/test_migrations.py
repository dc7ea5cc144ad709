"""One Alembic history takes an empty database to head and back to base, on every backend."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from taskmanager import database
from taskmanager.models import Base

from .support import databases


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = databases.create_database(tmp_path, prefix="tm_migr")
    try:
        database.upgrade(url)
        engine = create_engine(url)
        try:
            tables = set(inspect(engine).get_table_names())
            assert {t.name for t in Base.metadata.sorted_tables} <= tables
            with engine.connect() as connection:
                # The migrations build exactly what the models describe.
                differences = compare_metadata(
                    MigrationContext.configure(connection, opts={"compare_type": False}),
                    Base.metadata,
                )
            assert differences == []
            database.downgrade(url, "base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
            database.upgrade(url)
            assert database.current_revision(url) is not None
        finally:
            engine.dispose()
    finally:
        databases.drop_database(url)
