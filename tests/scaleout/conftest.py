"""The scale-out harness runs on PostgreSQL (CI's PostgreSQL run). On SQLite it is skipped with
its reason; on MariaDB it is deselected instead, because .ci/run fails a real-database run that
skipped anything (the reason is then in the report header)."""

from __future__ import annotations

import pytest

from ..support import databases

REASON = "the scale-out harness runs on PostgreSQL (TASKMAN_TEST_DATABASE_URL=postgresql://...)"


def pytest_report_header() -> str | None:
    if databases.backend_name() == "postgresql":
        return None
    return f"tests/scaleout: not run here, {REASON}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = databases.backend_name()
    if backend == "postgresql":
        return
    here = [item for item in items if "tests/scaleout/" in item.nodeid]
    if backend == "sqlite":
        for item in here:
            item.add_marker(pytest.mark.skip(reason=REASON))
    elif here:
        config.hook.pytest_deselected(items=here)
        items[:] = [item for item in items if item not in here]
