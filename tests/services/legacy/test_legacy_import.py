"""The legacy import's source side: the old database is opened read-only and checked."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from taskmanager.services.legacy import legacy_import, steps

from ...support import databases, legacy_schema


@pytest.fixture
def source_url(tmp_path: Path) -> Iterator[str]:
    url = databases.create_database(tmp_path, prefix="tm_legacy")
    legacy_schema.build(url)
    yield url
    databases.drop_database(url)


def test_the_old_database_is_counted_and_cannot_be_written(source_url: str) -> None:
    source = legacy_import.open_source(source_url)
    try:
        assert source.counts["task"] == 5 and source.counts["roles_users"] == 5
        with pytest.raises(DBAPIError):
            source.connection.execute(text("DELETE FROM meta_history"))
    finally:
        source.close()


def test_an_unreachable_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(steps.LegacyImportError, match="cannot read the old database"):
        legacy_import.open_source(f"sqlite:///{tmp_path / 'missing.db'}")
